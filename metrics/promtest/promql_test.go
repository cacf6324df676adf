package promtest

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (source) (rate(bgcall_sessions_created_total[5m])) * 60`, []string{"bgcall_sessions_created_total"}},
		{`histogram_quantile(0.99, sum by (node, kind, le) (rate(bgcall_esl_command_duration_seconds_bucket{node=~".*"}[5m])))`,
			[]string{"bgcall_esl_command_duration_seconds_bucket"}},
		{`sum(rate(a_total{leg="callee",class="answered"}[1h] offset 1d)) / sum(rate(b_total[1h])) < 0.02 and on() c >= 50`,
			[]string{"a_total", "b_total", "c"}},
		{`max without (instance) (x) unless ignoring (le) y or group_left(node) z`, []string{"x", "y", "z"}},
		{`absent(bgcall_build_info)`, []string{"bgcall_build_info"}},
		{`count by (version) (bgcall_build_info) > bool 1e3 + 0x1F - .5 + Inf - NaN`, []string{"bgcall_build_info"}},
		{`{__name__="by_name_only"}`, nil},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
		{"sum(m) # a comment naming not_a_metric\n+ n", []string{"m", "n"}},
		{`rate(m[5m:1m] @ start())`, []string{"m"}},
		{`sum (m) by(le)`, []string{"m"}},
	} {
		if got := MetricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("MetricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"__rate_interval": "2m", "__interval": "30s", "node": ".*"}
	for in, want := range map[string]string{
		`rate(x{node=~"$node"}[$__rate_interval])`: `rate(x{node=~".*"}[2m])`,
		`rate(x{node=~"${node}"}[${__interval}])`:  `rate(x{node=~".*"}[30s])`,
		`x{node=~"${node:regex}"}`:                 `x{node=~".*"}`,
		`rate(x[$__interval_ms])`:                  `rate(x[$__interval_ms])`,
		`x{a="$nodes"}`:                            `x{a="$nodes"}`,
		`sum(rate(x[$__interval])) by ($unknown)`:  `sum(rate(x[30s])) by ($unknown)`,
	} {
		if got := Expand(in, vars); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVariableSelector(t *testing.T) {
	sel, label, err := VariableSelector(`label_values(bgcall_esl_connected{job="x"}, node)`)
	if err != nil || sel != `bgcall_esl_connected{job="x"}` || label != "node" {
		t.Errorf("got %q %q %v", sel, label, err)
	}
	if _, _, err := VariableSelector(`query_result(up)`); err == nil {
		t.Error("query_result accepted as label_values")
	}
}
