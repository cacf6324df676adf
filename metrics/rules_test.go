package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"bgcall/metrics/promtest"
)

const (
	rulesDir      = "../deploy/prometheus"
	rulesFile     = "bgcall-rules.yml"
	rulesTestFile = "bgcall-rules.test.yml"
)

// TestAlertRules runs promtool on the shipped rules: syntax and PromQL
// (check rules), then behaviour against the unit tests beside them.
func TestAlertRules(t *testing.T) {
	promtool := promtest.Promtool(t)
	if out, err := promtest.RunPromtool(promtool, rulesDir, "check", "rules", rulesFile); err != nil {
		t.Fatalf("%v", err)
	} else if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules did not report success:\n%s", out)
	}
	// The example configuration loads the rules by a path that must resolve.
	if _, err := promtest.RunPromtool(promtool, rulesDir, "check", "config", "prometheus.example.yml"); err != nil {
		t.Fatalf("%v", err)
	}
	if out, err := promtest.RunPromtool(promtool, rulesDir, "test", "rules", rulesTestFile); err != nil {
		t.Fatalf("%v", err)
	} else if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules did not report success:\n%s", out)
	}
}

// TestAlertRulesUseExportedMetrics catches a misspelt metric in an alert,
// which would never fire, and in the unit tests' input series, which would
// make them test a metric nobody exports.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	_, reg := newTestMetrics(t)
	exported, err := promtest.ExportedNames(reg)
	if err != nil {
		t.Fatal(err)
	}
	exported["up"] = true // written by Prometheus itself

	rules := yamlValues(t, filepath.Join(rulesDir, rulesFile), "expr")
	if len(rules) < 6 {
		t.Fatalf("found %d rule expressions in %s, want at least 6", len(rules), rulesFile)
	}
	if err := promtest.CheckNames(rules, exported); err != nil {
		t.Error(err)
	}

	series := yamlValues(t, filepath.Join(rulesDir, rulesTestFile), "series")
	if len(series) == 0 {
		t.Fatalf("no input series in %s", rulesTestFile)
	}
	for where, expr := range yamlValues(t, filepath.Join(rulesDir, rulesTestFile), "expr") {
		series[where] = expr
	}
	if err := promtest.CheckNames(series, exported); err != nil {
		t.Error(err)
	}

	// The check must be able to fail.
	bogus := map[string]string{"bogus": `sum(rate(bgcall_dial_attempt_total[5m]))`}
	if err := promtest.CheckNames(bogus, exported); err == nil {
		t.Error("a misspelt metric name passed the check")
	}
}

var yamlKey = regexp.MustCompile(`^(\s*-?\s*)([A-Za-z_]+):\s*(.*)$`)

// yamlValues returns the values of every key named key in a YAML file, keyed
// "file:line". It understands what the rules files use: plain and quoted
// scalars, and block scalars (| and >, with - or +) whose lines are indented
// deeper than the key. Folded text keeps its line breaks, which PromQL does
// not mind.
func yamlValues(t *testing.T, path, key string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	out := make(map[string]string)
	for i := 0; i < len(lines); i++ {
		m := yamlKey.FindStringSubmatch(lines[i])
		if m == nil || m[2] != key {
			continue
		}
		where := fmt.Sprintf("%s:%d", filepath.Base(path), i+1)
		value := strings.TrimSpace(m[3])
		if !strings.HasPrefix(value, "|") && !strings.HasPrefix(value, ">") {
			out[where] = unquoteYAML(value)
			continue
		}
		indent := len(m[1])
		var block []string
		for i+1 < len(lines) {
			next := lines[i+1]
			if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
				break
			}
			block = append(block, next)
			i++
		}
		out[where] = strings.TrimSpace(strings.Join(block, "\n"))
	}
	return out
}

func unquoteYAML(s string) string {
	if len(s) >= 2 {
		switch {
		case s[0] == '\'' && s[len(s)-1] == '\'':
			return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
		case s[0] == '"' && s[len(s)-1] == '"':
			return strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`)
		}
	}
	return s
}
