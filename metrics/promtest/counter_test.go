package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestCounterPicksTheSeriesWithEveryLabel: the value is that of the one
// series whose labels all match, not the first of the family.
func TestCounterPicksTheSeriesWithEveryLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a", "b"})
	reg.MustRegister(c)
	c.WithLabelValues("1", "1").Add(1)
	c.WithLabelValues("1", "2").Add(2)
	c.WithLabelValues("2", "2").Add(3)
	if got := Counter(t, reg, "x_total", map[string]string{"a": "1", "b": "2"}); got != 2 {
		t.Errorf("x_total{a=1,b=2} = %v, want 2", got)
	}
	if got := Counter(t, reg, "x_total", map[string]string{"a": "2"}); got != 3 {
		t.Errorf("x_total{a=2} = %v, want 3", got)
	}
}
