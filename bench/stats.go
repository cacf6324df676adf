package bench

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// quantiles summarises durations, in milliseconds.
type quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// P99Beyond says a histogram's p99 lies past its last finite bucket,
	// which P99 then is.
	P99Beyond bool `json:"p99_beyond_last_bucket,omitempty"`
}

func summarize(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		return ms(ds[max(i, 0)])
	}
	return quantiles{N: len(ds), P50: at(0.50), P99: at(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// hist is a Prometheus histogram's cumulative buckets.
type hist struct {
	Bounds []float64 // upper bounds, seconds
	Counts []uint64  // cumulative
	Count  uint64
	Sum    float64
}

// gatherHist reads the histogram name from reg; with label, a name and a
// value, the series of the vector that carries it.
func gatherHist(reg *prometheus.Registry, name string, label ...string) (hist, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return hist{}, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		i := slices.IndexFunc(mf.GetMetric(), func(m *dto.Metric) bool {
			return len(label) < 2 || slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == label[0] && l.GetValue() == label[1]
			})
		})
		if i < 0 {
			break
		}
		h := mf.GetMetric()[i].GetHistogram()
		var out hist
		for _, b := range h.GetBucket() {
			out.Bounds = append(out.Bounds, b.GetUpperBound())
			out.Counts = append(out.Counts, b.GetCumulativeCount())
		}
		out.Count, out.Sum = h.GetSampleCount(), h.GetSampleSum()
		return out, nil
	}
	return hist{}, fmt.Errorf("metric %s%v not found", name, label)
}

// add merges the observations of o, a histogram with the same buckets.
func (h hist) add(o hist) hist {
	if h.Bounds == nil {
		return hist{Bounds: o.Bounds, Counts: slices.Clone(o.Counts), Count: o.Count, Sum: o.Sum}
	}
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Count += o.Count
	h.Sum += o.Sum
	return h
}

func (h hist) sub(old hist) hist {
	out := hist{Bounds: h.Bounds, Count: h.Count - old.Count, Sum: h.Sum - old.Sum}
	for i, c := range h.Counts {
		if i < len(old.Counts) {
			c -= old.Counts[i]
		}
		out.Counts = append(out.Counts, c)
	}
	return out
}

// quantile interpolates within the bucket holding q, as Prometheus's
// histogram_quantile does.
func (h hist) quantile(q float64) float64 {
	if h.Count == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	lower, prev := 0.0, uint64(0)
	for i, c := range h.Counts {
		if float64(c) >= rank {
			if c == prev {
				return h.Bounds[i]
			}
			return lower + (h.Bounds[i]-lower)*(rank-float64(prev))/float64(c-prev)
		}
		lower, prev = h.Bounds[i], c
	}
	return lower // in the +Inf bucket: the largest finite bound
}

// summary returns p50, p99 and the upper bound of the highest non-empty
// bucket, in milliseconds.
func (h hist) summary() quantiles {
	q := quantiles{N: int(h.Count), P50: round2(h.quantile(0.5) * 1000), P99: round2(h.quantile(0.99) * 1000)}
	prev := uint64(0)
	for i, c := range h.Counts {
		if c > prev {
			q.Max = round2(h.Bounds[i] * 1000)
		}
		prev = c
	}
	if h.Count > prev {
		q.Max = -1 // beyond the last bucket
		q.P99Beyond = float64(prev) < 0.99*float64(h.Count)
	}
	return q
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
