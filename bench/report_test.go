package bench

import (
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
