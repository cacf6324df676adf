package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"bgcall/metrics/promtest"
)

const dashboardFile = "../deploy/grafana/bgcall.json"

// dashboardExprs returns every panel query of the shipped dashboard with its
// Grafana variables expanded, keyed by panel, plus the selectors of its
// label_values variables.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	d, err := promtest.LoadDashboard(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Queries) < 15 {
		t.Fatalf("dashboard has %d queries, want at least 15", len(d.Queries))
	}
	exprs := make(map[string]string)
	for _, q := range d.Queries {
		exprs[q.String()] = promtest.Expand(q.Expr, promtest.DefaultVars)
	}
	for _, v := range d.Variables {
		if v.Type != "query" {
			continue
		}
		sel, _, err := promtest.VariableSelector(v.Query)
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		exprs["variable "+v.Name] = promtest.Expand(sel, promtest.DefaultVars)
	}
	return exprs
}

// checkDashboardExprs is the one code path both the real dashboard and the
// bogus queries below go through: PromQL parsed by promtool, metric names
// checked against what New exports.
func checkDashboardExprs(t *testing.T, exprs map[string]string) error {
	t.Helper()
	_, reg := newTestMetrics(t)
	exported, err := promtest.ExportedNames(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := promtest.CheckPromQL(promtest.Promtool(t), exprs); err != nil {
		return err
	}
	return promtest.CheckNames(exprs, exported)
}

func TestDashboardQueries(t *testing.T) {
	exprs := dashboardExprs(t)
	if err := checkDashboardExprs(t, exprs); err != nil {
		t.Fatal(err)
	}
	// Every metric the package exports appears on the dashboard somewhere,
	// so nothing is exported that an operator cannot see.
	used := make(map[string]bool)
	for _, e := range exprs {
		for _, name := range promtest.MetricNames(e) {
			used[strings.TrimSuffix(name, "_bucket")] = true
		}
	}
	_, reg := newTestMetrics(t)
	for name := range gatherBgcall(t, reg) {
		if !used[name] {
			t.Errorf("%s is on no dashboard panel", name)
		}
	}
}

// TestDashboardCheckRejects proves the check above can fail: a query that
// does not parse and one naming a metric bgcall does not export are both
// rejected, next to a valid one.
func TestDashboardCheckRejects(t *testing.T) {
	valid := `sum(rate(bgcall_retries_total[5m]))`
	for name, bad := range map[string]string{
		"unclosed paren":     `sum(rate(bgcall_retries_total[5m])`,
		"unexpanded var":     `rate(bgcall_retries_total[$window])`,
		"unknown metric":     `sum(rate(bgcall_calls_total[5m]))`,
		"histogram w/o le":   `rate(bgcall_retries_total_bucket[5m])`,
		"counter suffix":     `bgcall_esl_connected_total`,
		"no metric selected": `vector(1)`,
	} {
		err := checkDashboardExprs(t, map[string]string{"valid": valid, name: bad})
		if err == nil {
			t.Errorf("%s: %s accepted", name, bad)
			continue
		}
		if strings.Contains(err.Error(), "valid:") {
			t.Errorf("%s: the valid query was blamed: %v", name, err)
		}
		t.Logf("%s rejected: %v", name, err)
	}
	if err := checkDashboardExprs(t, map[string]string{"valid": valid}); err != nil {
		t.Errorf("valid query rejected: %v", err)
	}
}

// TestDashboardStructure checks what makes the dashboard portable and
// readable: no hard-coded datasource, a datasource variable, the node
// variable, and a description and unit on every panel.
func TestDashboardStructure(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}

	// Every datasource reference, wherever it is, points at the variable.
	var walk func(path string, v any)
	refs := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "datasource" {
					refs++
					checkDatasourceRef(t, path+"."+k, child)
				}
				walk(path+"."+k, child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("$", doc)
	if refs == 0 {
		t.Error("no datasource references found")
	}
	// Import asks for the data source (__inputs) and makes it the
	// variable's choice; the variable switches it afterwards.
	inputs, _ := doc["__inputs"].([]any)
	if len(inputs) != 1 || inputs[0].(map[string]any)["name"] != "DS_PROMETHEUS" || inputs[0].(map[string]any)["pluginId"] != "prometheus" {
		t.Errorf("__inputs = %v, want one prometheus data source DS_PROMETHEUS", doc["__inputs"])
	}

	d, err := promtest.LoadDashboard(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	vars := make(map[string]promtest.Variable)
	for _, v := range d.Variables {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("datasource variable = %+v, want type datasource with query prometheus", v)
	}
	if v, ok := vars["node"]; !ok || v.Type != "query" || !strings.Contains(v.Query, "bgcall_esl_connected") {
		t.Errorf("node variable = %+v, want label_values over bgcall_esl_connected", v)
	}
	for _, name := range []string{"job", "instance"} {
		if v, ok := vars[name]; !ok || v.Type != "query" || !strings.HasSuffix(v.Query, ", "+name+")") {
			t.Errorf("%s variable = %+v, want label_values(..., %s)", name, v, name)
		}
	}
	// Every query is scoped to the chosen job and replicas.
	for _, q := range d.Queries {
		for _, name := range promtest.MetricNames(promtest.Expand(q.Expr, promtest.DefaultVars)) {
			if n := strings.Count(q.Expr, name+"{"); n == 0 || n != strings.Count(q.Expr, name+`{job=~"$job",instance=~"$instance"`) {
				t.Errorf("%s: %s is not scoped to $job and $instance: %s", q, name, q.Expr)
			}
		}
	}

	var panels []map[string]any
	var collect func([]any)
	collect = func(list []any) {
		for _, p := range list {
			pm, _ := p.(map[string]any)
			if pm["type"] != "row" {
				panels = append(panels, pm)
			}
			if sub, ok := pm["panels"].([]any); ok {
				collect(sub)
			}
		}
	}
	list, _ := doc["panels"].([]any)
	collect(list)
	ids := make(map[float64]bool)
	for _, p := range panels {
		title, _ := p["title"].(string)
		if desc, _ := p["description"].(string); len(desc) < 40 {
			t.Errorf("panel %q: description missing or too short to help on call", title)
		}
		unit, _ := p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unit"].(string)
		if unit == "" {
			t.Errorf("panel %q: no unit", title)
		}
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel %q: duplicate id %v", title, id)
		}
		ids[id] = true
	}
	// An up/down series reads as up and down, not 1 and 0.
	for _, p := range panels {
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 || !strings.Contains(targets[0].(map[string]any)["expr"].(string), "bgcall_esl_connected") {
			continue
		}
		mappings, _ := p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["mappings"].([]any)
		text := fmt.Sprint(mappings)
		if !strings.Contains(text, "text:up") || !strings.Contains(text, "text:down") {
			t.Errorf("panel %q: no value mappings naming 1 up and 0 down: %v", p["title"], mappings)
		}
	}
	for _, q := range d.Queries {
		if strings.Contains(q.Expr, "bgcall_sessions_live") && !strings.Contains(q.Expr, "max by (state)") {
			t.Errorf("%s: every replica exports the same live gauge; aggregate with max by (state): %s", q, q.Expr)
		}
	}
}

func checkDatasourceRef(t *testing.T, path string, v any) {
	t.Helper()
	switch ref := v.(type) {
	case string:
		if ref != "${datasource}" && ref != "$datasource" {
			t.Errorf("%s = %q, want the ${datasource} variable", path, ref)
		}
	case map[string]any:
		if uid, _ := ref["uid"].(string); uid != "${datasource}" && uid != "$datasource" {
			t.Errorf("%s.uid = %q, want the ${datasource} variable", path, uid)
		}
	default:
		t.Errorf("%s: unexpected datasource %v", path, v)
	}
}
