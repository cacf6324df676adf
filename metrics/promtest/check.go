package promtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Promtool returns the path of promtool, failing the test with the fix when
// it is missing: the rules and dashboard checks must not silently pass.
func Promtool(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found in PATH: install the Debian package prometheus (make deps runs scripts/install-deps): %v", err)
	}
	return path
}

// RunPromtool runs promtool with args in dir and returns its combined
// output, with an error that carries the output when it fails.
func RunPromtool(promtool, dir string, args ...string) (string, error) {
	cmd := exec.Command(promtool, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("promtool %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// CheckPromQL proves each expression parses as PromQL by writing them as
// recording rules to a temporary rules file and running `promtool check
// rules` on it; promtool parses every expression with Prometheus's own
// parser. The error names the expressions promtool rejected.
func CheckPromQL(promtool string, exprs map[string]string) error {
	if len(exprs) == 0 {
		return errors.New("check PromQL: no expressions")
	}
	dir, err := os.MkdirTemp("", "promql-check-")
	if err != nil {
		return fmt.Errorf("check PromQL: %w", err)
	}
	defer os.RemoveAll(dir)

	var b strings.Builder
	b.WriteString("groups:\n  - name: queries\n    rules:\n")
	keys := sortedKeys(exprs)
	for i, key := range keys {
		// JSON string quoting is valid YAML and keeps any expression on one line.
		fmt.Fprintf(&b, "      - record: query:%d\n        expr: %s\n", i, strconv.Quote(exprs[key]))
	}
	file := filepath.Join(dir, "queries.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("check PromQL: %w", err)
	}
	out, err := RunPromtool(promtool, dir, "check", "rules", file)
	if err == nil {
		return nil
	}
	// Name the offending expressions: promtool reports the record name.
	var bad []string
	for i, key := range keys {
		if strings.Contains(out, fmt.Sprintf("%q", "query:"+strconv.Itoa(i))) {
			bad = append(bad, fmt.Sprintf("%s: %s", key, exprs[key]))
		}
	}
	return fmt.Errorf("PromQL rejected (%s):\n%s", strings.Join(bad, "; "), out)
}

// ExportedNames returns the metric names a Gatherer exposes as Prometheus
// stores them: a histogram's family adds name_bucket, name_sum and
// name_count; a summary's adds name_sum and name_count.
func ExportedNames(g prometheus.Gatherer) (map[string]bool, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	names := make(map[string]bool)
	for _, mf := range mfs {
		name := mf.GetName()
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"] = true
			names[name+"_sum"] = true
			names[name+"_count"] = true
		case dto.MetricType_SUMMARY:
			names[name] = true
			names[name+"_sum"] = true
			names[name+"_count"] = true
		default:
			names[name] = true
		}
	}
	return names, nil
}

// CheckNames reports each expression that selects a metric outside
// exported, or no metric at all.
func CheckNames(exprs map[string]string, exported map[string]bool) error {
	var problems []string
	for _, key := range sortedKeys(exprs) {
		names := MetricNames(exprs[key])
		if len(names) == 0 {
			problems = append(problems, fmt.Sprintf("%s selects no metric: %s", key, exprs[key]))
		}
		for _, name := range names {
			if !exported[name] {
				problems = append(problems, fmt.Sprintf("%s uses %s, which bgcall does not export", key, name))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Counter returns the value of the counter name whose series has every
// label in labels, gathered from g; it fails t when g exports none.
func Counter(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("%s%v not exported", name, labels)
	return 0
}
