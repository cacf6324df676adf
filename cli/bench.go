package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"bgcall/bench"
)

// runBench runs the load harness. The harness starts its engine replicas
// as children running this same command line; bench.Run serves as the
// replica in those.
func runBench(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "bench", "[flags]", "Measure throughput, Redis cost, memory, scheduler lateness and reaction times on simulated FreeSWITCH nodes and one real FreeSWITCH when installed, beside asynq as a yardstick")
	var o bench.Options
	var rates, waiting, asynqIv string
	fs.BoolVar(&o.Short, "short", false, "a run of a few seconds with small counts")
	fs.StringVar(&o.Out, "out", "", "JSON result file (default bench-results/bench.json; - for none)")
	fs.IntVar(&o.Nodes, "nodes", 0, "simulated FreeSWITCH nodes (default 3)")
	fs.IntVar(&o.Replicas, "replicas", 0, "engine replicas (default 1)")
	fs.StringVar(&rates, "rates", "", "comma-separated offered new sessions per second, one run each (default 100,500,600)")
	fs.DurationVar(&o.Duration, "duration", 0, "how long the load is offered (default 20s)")
	fs.StringVar(&waiting, "waiting", "", "comma-separated waiting-session levels (default 10000,100000,1000000)")
	fs.IntVar(&o.LatenessWaiting, "lateness-waiting", 0, "waiting sessions during the lateness run (default 100000)")
	fs.IntVar(&o.DueRate, "due-rate", 0, "attempts falling due per second (default 1000)")
	fs.DurationVar(&o.DueDuration, "due-duration", 0, "how long attempts fall due (default 15s)")
	fs.StringVar(&asynqIv, "asynq-intervals", "", "comma-separated asynq check intervals, 0 = asynq's default (default 0,<poll>)")
	fs.DurationVar(&o.PollInterval, "poll", 0, "engine poll interval (default the engine's)")
	fs.IntVar(&o.Workers, "workers", 0, "engine workers (default the engine's)")
	fs.IntVar(&o.GOGC, "replica-gogc", 0, "GOGC of the replicas (default 400, as the systemd unit runs bgcall; negative: the GOGC environment variable)")
	fs.StringVar(&o.ProfileDir, "profile", "", "directory for replica CPU and heap profiles")
	var realRates string
	fs.StringVar(&o.FreeSWITCH, "freeswitch-bin", "", "FreeSWITCH binary for the real-FreeSWITCH runs (default $BGCALL_FREESWITCH_BIN or /usr/local/freeswitch/bin/freeswitch; none there: those runs are skipped)")
	fs.StringVar(&realRates, "freeswitch-rates", "", "comma-separated offered new sessions per second through the real FreeSWITCH, until one is not sustained (default 20,40,80)")
	fs.DurationVar(&o.RealDuration, "freeswitch-duration", 0, "how long each real-FreeSWITCH load is offered (default 30s)")
	fs.BoolVar(&o.NoFreeSWITCH, "no-freeswitch", false, "skip the real-FreeSWITCH runs")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	var err error
	if o.Rates, err = intList(rates); err != nil {
		return usageError("--rates: %v", err)
	}
	if o.Waiting, err = intList(waiting); err != nil {
		return usageError("--waiting: %v", err)
	}
	if o.AsynqCheckIntervals, err = durationList(asynqIv); err != nil {
		return usageError("--asynq-intervals: %v", err)
	}
	if o.RealRates, err = intList(realRates); err != nil {
		return usageError("--freeswitch-rates: %v", err)
	}
	o.Logger = slog.New(slog.NewTextHandler(env.Stderr, nil))
	_, err = bench.Run(ctx, o, env.Stdout)
	return err
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range splitComma(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func durationList(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range splitComma(s) {
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 50ms", f)
		}
		out = append(out, d)
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
