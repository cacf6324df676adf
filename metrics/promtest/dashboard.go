package promtest

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Query is one PromQL query of a dashboard panel.
type Query struct {
	PanelID    int
	PanelTitle string
	RefID      string
	Expr       string // as written, with Grafana variables
}

func (q Query) String() string {
	return fmt.Sprintf("panel %d %q query %s", q.PanelID, q.PanelTitle, q.RefID)
}

// Variable is a dashboard template variable.
type Variable struct {
	Name, Type string
	Query      string // for type "query": the label_values(...) or PromQL text
}

// Dashboard is what the tests need of a Grafana dashboard.
type Dashboard struct {
	Queries   []Query
	Variables []Variable
}

type panelJSON struct {
	ID      int         `json:"id"`
	Title   string      `json:"title"`
	Type    string      `json:"type"`
	Panels  []panelJSON `json:"panels"` // a collapsed row keeps its panels here
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// LoadDashboard reads the queries and variables of a Grafana dashboard JSON
// file.
func LoadDashboard(path string) (*Dashboard, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var raw struct {
		Panels     []panelJSON `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse dashboard %s: %w", path, err)
	}
	d := &Dashboard{}
	var walk func([]panelJSON)
	walk = func(panels []panelJSON) {
		for _, p := range panels {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					continue
				}
				d.Queries = append(d.Queries, Query{PanelID: p.ID, PanelTitle: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(raw.Panels)

	for _, v := range raw.Templating.List {
		variable := Variable{Name: v.Name, Type: v.Type}
		// Grafana stores a query variable's query as a string or as
		// {"query": "..."} depending on its version.
		var s string
		var obj struct {
			Query string `json:"query"`
		}
		switch {
		case len(v.Query) == 0:
		case json.Unmarshal(v.Query, &s) == nil:
			variable.Query = s
		case json.Unmarshal(v.Query, &obj) == nil:
			variable.Query = obj.Query
		}
		d.Variables = append(d.Variables, variable)
	}
	return d, nil
}

// DefaultVars are values for Grafana's built-in variables and bgcall's
// job, instance and node variables that turn a panel query into plain
// PromQL.
var DefaultVars = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__range":         "1h",
	"job":             ".*",
	"instance":        ".*",
	"node":            ".*",
}

// Expand replaces Grafana variables ($name, ${name}, ${name:format}) in expr
// with their values. Variables without a value are left as they are, so
// PromQL parsing rejects them.
func Expand(expr string, vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	// Longest first, so $__interval does not eat the start of $__interval_ms.
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, name := range names {
		braced := regexp.MustCompile(`\$\{` + regexp.QuoteMeta(name) + `(:[^}]*)?\}`)
		expr = braced.ReplaceAllLiteralString(expr, vars[name])
		plain := regexp.MustCompile(`\$` + regexp.QuoteMeta(name) + `\b`)
		expr = plain.ReplaceAllLiteralString(expr, vars[name])
	}
	return expr
}

var labelValuesCall = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// VariableSelector returns the PromQL series selector inside a Grafana
// label_values(selector, label) variable query, and the label.
func VariableSelector(query string) (selector, label string, err error) {
	m := labelValuesCall.FindStringSubmatch(query)
	if m == nil {
		return "", "", fmt.Errorf("variable query %q is not label_values(selector, label)", query)
	}
	return m[1], m[2], nil
}
