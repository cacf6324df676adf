package bench

import (
	"fmt"
	"strings"
	"testing"
)

// TestCapacityCheck: the 500 sessions/s target is judged on the run that
// sustained most with every session finished, whatever the run order.
func TestCapacityCheck(t *testing.T) {
	fast := quantiles{N: 10, P50: 1, P99: 2, Max: 3}
	cases := []struct {
		name  string
		runs  []ThroughputRun
		value string
		met   bool
	}{
		{"best of several", []ThroughputRun{
			{OfferedPerSec: 100, SustainedPerSec: 100},
			{OfferedPerSec: 600, SustainedPerSec: 540.5},
			{OfferedPerSec: 500, SustainedPerSec: 497},
		}, "540.5", true},
		{"an unfinished run does not count", []ThroughputRun{
			{OfferedPerSec: 100, SustainedPerSec: 100},
			{OfferedPerSec: 600, SustainedPerSec: 560, Unfinished: 3},
		}, "100.0", false},
		{"every run unfinished", []ThroughputRun{
			{OfferedPerSec: 600, SustainedPerSec: 560, Unfinished: 3},
		}, "every run left sessions unfinished", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.runs {
				c.runs[i].CalleeReaction, c.runs[i].CallerReaction = fast, fast
			}
			var found []Check
			for _, ch := range checks(Result{Throughput: c.runs}) {
				if strings.HasPrefix(ch.Target, "sustained") {
					found = append(found, ch)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d capacity checks, want 1: %+v", len(found), found)
			}
			if found[0].Value != c.value || found[0].Met != c.met {
				t.Errorf("got %+v, want value %q met %v", found[0], c.value, c.met)
			}
		})
	}
}

// A p99 past the last finite bucket is marked, and printed as such: the
// bucket's bound alone would read as a measured value.
func TestP99BeyondLastBucket(t *testing.T) {
	bounds := []float64{0.5, 1}
	within := hist{Bounds: bounds, Counts: []uint64{60, 99}, Count: 100}.summary()
	beyond := hist{Bounds: bounds, Counts: []uint64{60, 98}, Count: 100}.summary()
	if within.P99Beyond || within.P99 > 1000 || within.Max != -1 {
		t.Errorf("99 of 100 within 1s: %+v; want p99 within the buckets, max beyond", within)
	}
	if !beyond.P99Beyond || beyond.P99 != 1000 {
		t.Errorf("98 of 100 within 1s: %+v; want p99 beyond the last bucket", beyond)
	}
	if got := p50p99(beyond); got != fmt.Sprintf("%.2f / > 1000", beyond.P50) {
		t.Errorf("printed %q", got)
	}
}
