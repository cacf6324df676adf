package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/redis/go-redis/v9"
)

func machine(ctx context.Context, rc redis.UniversalClient) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				m.MemoryGiB = round2(kb / (1 << 20))
			}
		}
	}
	m.LoadAtStart = loadAverage()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if info, err := rc.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				m.RedisVersion = v
			}
		}
	}
	return m
}

// loadAverage is the 1-minute load average, or 0 when unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

// bestThroughput is the run that sustained the most sessions per second
// with every session finished, or nil.
func bestThroughput(runs []ThroughputRun) *ThroughputRun {
	var best *ThroughputRun
	for i := range runs {
		if t := &runs[i]; t.Unfinished == 0 && (best == nil || t.SustainedPerSec > best.SustainedPerSec) {
			best = t
		}
	}
	return best
}

// checks compares the result with the targets.
func checks(r Result) []Check {
	var cs []Check
	add := func(target, value string, met bool) { cs = append(cs, Check{target, value, met}) }
	// Capacity is what the best run sustained: a run offered less than 500/s
	// cannot show it, and one offered more shows whether the replica keeps up.
	if best := bestThroughput(r.Throughput); best != nil {
		add(fmt.Sprintf("sustained full sessions/s >= 500 (best run: %d/s offered)", best.OfferedPerSec),
			fmt.Sprintf("%.1f", best.SustainedPerSec), best.SustainedPerSec >= 500)
	} else if len(r.Throughput) > 0 {
		add("sustained full sessions/s >= 500", "every run left sessions unfinished", false)
	}
	for _, t := range r.Throughput {
		w := fmt.Sprintf(" (%d/s offered)", t.OfferedPerSec)
		add("reaction p99 <= 5ms, B answer -> caller originate"+w, fmt.Sprintf("%.2fms", t.CalleeReaction.P99), t.CalleeReaction.N > 0 && t.CalleeReaction.P99 <= 5)
		add("reaction p99 <= 5ms, A answer -> uuid_bridge"+w, fmt.Sprintf("%.2fms", t.CallerReaction.P99), t.CallerReaction.N > 0 && t.CallerReaction.P99 <= 5)
		add("Redis round trips per transition <= 2"+w, fmt.Sprintf("%.2f", t.RoundTripsPerTrans), t.RoundTripsPerTrans <= 2)
	}
	if n := len(r.Waiting); n > 0 {
		top := r.Waiting[n-1]
		add(fmt.Sprintf("Redis <= 1 KiB per waiting session (at %d)", top.Waiting), fmt.Sprintf("%.0f B", top.RedisBytesPerSess), top.RedisBytesPerSess <= 1024)
		flat := top.HeapMiB <= 2*r.Waiting[0].HeapMiB+8
		add(fmt.Sprintf("controller heap flat and <= 64 MiB (at %d)", top.Waiting),
			fmt.Sprintf("%.1f MiB (%.1f MiB at %d)", top.HeapMiB, r.Waiting[0].HeapMiB, r.Waiting[0].Waiting), top.HeapMiB <= 64 && flat)
	}
	if l := r.Lateness; l != nil {
		add(fmt.Sprintf("scheduler lateness p99 <= 20ms (%d waiting, %d due/s)", l.Waiting, l.DuePerSec), fmt.Sprintf("%.2fms", l.Originate.P99), l.Originate.N > 0 && l.Originate.P99 <= 20)
		for _, a := range r.Asynq {
			w := fmt.Sprintf(" (asynq check interval %gms)", a.CheckIntervalMS)
			add("lateness p99 no worse than asynq's"+w, fmt.Sprintf("%.2fms vs %.2fms", l.Originate.P99, a.Lateness.P99), l.Originate.P99 <= a.Lateness.P99)
			add("Redis commands per retry no worse than asynq's per job"+w, fmt.Sprintf("%.2f vs %.2f", l.CommandsPerAttempt, a.CommandsPerJob), l.CommandsPerAttempt <= a.CommandsPerJob)
		}
	}
	return cs
}

func printTable(w io.Writer, r Result) {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs %s, %.1f GiB, Linux %s, %s, redis %s; load average %.2f at start, %.2f at end\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.GoVersion, m.RedisVersion, m.LoadAtStart, m.LoadAtEnd)
	fmt.Fprintf(w, "setup: %d simulator nodes, %d replica(s) as child processes, simulator second %gms\nmix: %s\n\n",
		r.Setup.Nodes, r.Setup.Replicas, r.Setup.SimSecondMS, r.Setup.Mix)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...any) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	q := func(x quantiles) string { return fmt.Sprintf("%.2f / %.2f / %.2f", x.P50, x.P99, x.Max) }
	for _, t := range r.Throughput {
		row(fmt.Sprintf("FULL SESSIONS (%d/s offered for %gs)", t.OfferedPerSec, r.Setup.LoadSeconds), "")
		row("  offered sessions/s, sessions", fmt.Sprintf("%d, %d (%d unfinished; all done %.1fs after the load)", t.OfferedPerSec, t.Sessions, t.Unfinished, t.DrainSeconds))
		row("  sustained sessions/s", fmt.Sprintf("%.1f", t.SustainedPerSec))
		row("  transitions/s (per session)", fmt.Sprintf("%.1f (%.2f)", t.TransitionsPerSec, t.TransitionsPerSess))
		row("  attempts per session", fmt.Sprintf("%.2f", t.AttemptsPerSession))
		row("  controller CPU s per 1000 sessions", fmt.Sprintf("%.2f", t.CPUSecPer1000))
		row("  Redis commands per session / transition", fmt.Sprintf("%.2f / %.2f", t.CommandsPerSession, t.CommandsPerTrans))
		row("  Redis round trips per session / transition", fmt.Sprintf("%.2f / %.2f", t.RoundTripsPerSession, t.RoundTripsPerTrans))
		row("  Redis CPU ms per session", fmt.Sprintf("%.3f", t.RedisCPUmsPerSession))
		row("  esl api / bgapi command round trip p50/p99/max ms", q(t.ESLAPI)+"  |  "+q(t.ESLBGAPI))
		row("  reaction B answer read -> caller originate written (histogram) p50/p99/max ms", q(t.CalleeReaction))
		row("  reaction A answer read -> uuid_bridge written (histogram) p50/p99/max ms", q(t.CallerReaction))
		row("  at the simulator, B answers -> caller originate handled p50/p99/max ms", q(t.CalleeEndToEnd))
		row("  at the simulator, A answers -> uuid_bridge handled p50/p99/max ms", q(t.CallerEndToEnd))
		row("  outcomes", outcomes(t.Outcomes))
	}
	tw.Flush()
	printFreeSWITCH(w, r)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Waiting) > 0 {
		row("WAITING SESSIONS", "")
		for _, l := range r.Waiting {
			row(fmt.Sprintf("  %d waiting", l.Waiting), fmt.Sprintf("Redis %.0f B and %.2f keys per session (%.1f MiB used); controller heap %.1f MiB (in use %.1f, RSS %.1f); filled at %.0f/s",
				l.RedisBytesPerSess, l.KeysPerSession, l.RedisUsedMiB, l.HeapMiB, l.HeapInuseMiB, l.RSSMiB, l.FillPerSec))
		}
	}
	if l := r.Lateness; l != nil {
		row(fmt.Sprintf("SCHEDULER LATENESS (%d waiting, %d due/s, %d attempts)", l.Waiting, l.DuePerSec, l.Attempts), "")
		row("  bgcall due -> originate received p50/p99/max ms", q(l.Originate))
		row("  bgcall due -> claim (histogram) p50/p99/max ms", q(l.Claim))
		row("  bgcall Redis commands / round trips per retry", fmt.Sprintf("%.2f / %.2f (create: %.2f commands)", l.CommandsPerAttempt, l.RoundTripsPerAtt, l.CreateCommands))
		row("  bgcall controller CPU s per 1000 attempts; Redis CPU ms per attempt", fmt.Sprintf("%.2f; %.3f", l.CPUSecPer1000, l.RedisCPUmsPerAtt))
		row("  bgcall esl bgapi round trip p50/p99/max ms", q(l.ESLBGAPI))
		for _, a := range r.Asynq {
			row(fmt.Sprintf("  asynq (check interval %gms) due -> handler p50/p99/max ms", a.CheckIntervalMS), q(a.Lateness)+fmt.Sprintf(" (%d of %d)", a.Processed, a.Jobs))
			row(fmt.Sprintf("  asynq (check interval %gms) Redis commands / round trips per job", a.CheckIntervalMS),
				fmt.Sprintf("%.2f / %.2f (enqueue: %.2f commands; %.0f B per waiting job); Redis CPU ms per job %.3f", a.CommandsPerJob, a.RoundTripsPerJob, a.EnqueueCommands, a.BytesPerWaiting, a.RedisCPUmsPerJob))
		}
	}
	tw.Flush()
	if len(r.Asynq) > 0 {
		fmt.Fprintln(w, "  (asynq keeps due times in whole seconds, so its jobs may run up to 1s early: negative lateness)")
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\nTARGETS")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.Checks {
			mark := "MISSED"
			if c.Met {
				mark = "met"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, c.Target, c.Value)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nrun took %.0fs\n", r.Seconds)
}

// printFreeSWITCH prints the real-FreeSWITCH runs beside the simulator's,
// one column each, or the one line that says why there are none.
func printFreeSWITCH(w io.Writer, r Result) {
	f := r.FreeSWITCH
	if f == nil {
		return
	}
	if f.Skipped != "" {
		fmt.Fprintf(w, "REAL FREESWITCH: %s\n", f.Skipped)
		return
	}
	fmt.Fprintf(w, "REAL FREESWITCH: one node, %s (%s), max-sessions %d and sessions-per-second %d (raised from the project configuration's 1000 and 500); both legs loopback; load average %.2f at start, %.2f at end\n",
		f.Version, f.Binary, f.MaxSessions, f.SessionsPerSecond, f.LoadAtStart, f.LoadAtEnd)
	fmt.Fprintf(w, "real mix, at real time, each rate offered for %gs: %s\n", f.LoadSeconds, f.Mix)
	type column struct {
		head string
		t    ThroughputRun
		real *RealRun
	}
	var cols []column
	for _, t := range r.Throughput {
		cols = append(cols, column{head: fmt.Sprintf("simulator %d/s", t.OfferedPerSec), t: t})
	}
	for i := range f.Runs {
		cols = append(cols, column{head: fmt.Sprintf("real FS %d/s", f.Runs[i].OfferedPerSec), t: f.Runs[i].ThroughputRun, real: &f.Runs[i]})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(label string, cell func(c column) string) {
		fmt.Fprint(tw, "  "+label)
		for _, c := range cols {
			fmt.Fprint(tw, "\t"+cell(c))
		}
		fmt.Fprintln(tw)
	}
	realOnly := func(cell func(r *RealRun) string) func(c column) string {
		return func(c column) string {
			if c.real == nil {
				return "-"
			}
			return cell(c.real)
		}
	}
	line("SIMULATOR AND REAL FREESWITCH", func(c column) string { return c.head })
	line("sessions (unfinished)", func(c column) string { return fmt.Sprintf("%d (%d)", c.t.Sessions, c.t.Unfinished) })
	line("sessions that ended as their far ends dictate", realOnly(func(r *RealRun) string { return fmt.Sprint(r.AsDictated) }))
	line("sustained sessions/s", func(c column) string { return fmt.Sprintf("%.1f", c.t.SustainedPerSec) })
	line("attempts per session", func(c column) string { return fmt.Sprintf("%.2f", c.t.AttemptsPerSession) })
	line("reaction B answer read -> caller originate written p50 / p99 ms", func(c column) string { return p50p99(c.t.CalleeReaction) })
	line("reaction A answer read -> uuid_bridge written p50 / p99 ms", func(c column) string { return p50p99(c.t.CallerReaction) })
	line("esl api / bgapi round trip p99 ms", func(c column) string { return fmt.Sprintf("%.2f / %.2f", c.t.ESLAPI.P99, c.t.ESLBGAPI.P99) })
	line("controller CPU s per 1000 sessions", func(c column) string { return fmt.Sprintf("%.2f", c.t.CPUSecPer1000) })
	line("FreeSWITCH CPU s per 1000 sessions", realOnly(func(r *RealRun) string { return fmt.Sprintf("%.2f", r.FreeSWITCHCPUSecPer1000) }))
	line("FreeSWITCH channels per session (of attempts)", realOnly(func(r *RealRun) string {
		return fmt.Sprintf("%.2f (%d/%d)", r.ChannelsPerSession, r.Channels, r.ChannelsDialled)
	}))
	line("FreeSWITCH peak channels up; created/s", realOnly(func(r *RealRun) string {
		return fmt.Sprintf("%d; %.0f", r.PeakChannels, r.PeakChannelsPerSec)
	}))
	line("FreeSWITCH channels left up after the last session", realOnly(func(r *RealRun) string { return fmt.Sprint(len(r.LeftUp)) }))
	line("FreeSWITCH RSS MiB at end", realOnly(func(r *RealRun) string { return fmt.Sprintf("%.0f", r.RSSMiB) }))
	line("completed / caller_missed / expired / failed / other", func(c column) string {
		o := c.t.Outcomes
		other := c.t.Sessions - c.t.Unfinished - o["completed"] - o["caller_missed"] - o["expired"] - o["failed"]
		return fmt.Sprintf("%d / %d / %d / %d / %d", o["completed"], o["caller_missed"], o["expired"], o["failed"], other)
	})
	tw.Flush()
	if f.Stopped != "" {
		fmt.Fprintf(w, "  real FreeSWITCH: %s\n", f.Stopped)
	}
}

// p50p99 prints a histogram's median and p99, the p99 as "> bound" when it
// lies past the last bucket.
func p50p99(q quantiles) string {
	if q.P99Beyond {
		return fmt.Sprintf("%.2f / > %.0f", q.P50, q.P99)
	}
	return fmt.Sprintf("%.2f / %.2f", q.P50, q.P99)
}

func outcomes(m map[string]int) string {
	var parts []string
	for _, k := range []string{"completed", "caller_missed", "callee_left", "expired", "failed", "cancelled"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}
