package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// liveCollector exports bgcall_sessions_live from a function read at scrape
// time, so the gauge reflects the shared store rather than what this one
// replica has seen.
type liveCollector struct {
	desc *prometheus.Desc

	mu sync.Mutex
	f  func() map[string]int64
}

func newLiveCollector() *liveCollector {
	return &liveCollector{
		desc: prometheus.NewDesc(namespace+"_sessions_live",
			"Sessions not finished yet, by state, across all replicas (every replica exports the same numbers).",
			[]string{"state"}, nil),
	}
}

func (c *liveCollector) setFunc(f func() map[string]int64) {
	c.mu.Lock()
	c.f = f
	c.mu.Unlock()
}

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	f := c.f
	c.mu.Unlock()

	counts := make(map[string]int64, len(LiveStates))
	if f != nil {
		got := f()
		if got == nil {
			return // unknown: a gap says so, a zero would not
		}
		for state, n := range got {
			if state == "finished" {
				continue
			}
			counts[bounded(state, LiveStates)] += n
		}
	}
	for _, state := range LiveStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[state]), state)
	}
}
