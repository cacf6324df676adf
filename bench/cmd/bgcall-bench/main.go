// Command bgcall-bench runs the load harness of package bench until the
// bgcall command offers it as a subcommand.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"bgcall/bench"
)

func main() {
	var o bench.Options
	var rates, waiting, asynqIv string
	flag.BoolVar(&o.Short, "short", false, "a run of a few seconds with small counts")
	flag.StringVar(&o.Out, "out", "", "JSON result file (default bench-results/bench.json; - for none)")
	flag.IntVar(&o.Nodes, "nodes", 0, "simulated FreeSWITCH nodes (default 3)")
	flag.IntVar(&o.Replicas, "replicas", 0, "engine replicas (default 1)")
	flag.StringVar(&rates, "rates", "", "comma-separated offered new sessions per second, one run each (default 500)")
	flag.DurationVar(&o.Duration, "duration", 0, "how long the load is offered (default 20s)")
	flag.StringVar(&waiting, "waiting", "", "comma-separated waiting-session levels (default 10000,100000,1000000)")
	flag.IntVar(&o.LatenessWaiting, "lateness-waiting", 0, "waiting sessions during the lateness run (default 100000)")
	flag.IntVar(&o.DueRate, "due-rate", 0, "attempts falling due per second (default 1000)")
	flag.DurationVar(&o.DueDuration, "due-duration", 0, "how long attempts fall due (default 15s)")
	flag.StringVar(&asynqIv, "asynq-intervals", "", "comma-separated asynq check intervals, 0 = asynq's default (default 0,<poll>)")
	flag.DurationVar(&o.PollInterval, "poll", 0, "engine poll interval (default the engine's)")
	flag.IntVar(&o.Workers, "workers", 0, "engine workers (default the engine's)")
	var events string
	flag.StringVar(&events, "events", "", "comma-separated FreeSWITCH events the replicas subscribe to (default esl's)")
	flag.IntVar(&o.GOGC, "gogc", 0, "GOGC of the replicas (default Go's)")
	flag.StringVar(&o.ProfileDir, "profile", "", "directory for replica CPU and heap profiles")
	flag.Parse()
	var err error
	if o.Rates, err = ints(rates); err == nil {
		if o.AsynqCheckIntervals, err = durations(asynqIv); err == nil {
			o.Waiting, err = ints(waiting)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bgcall-bench:", err)
		os.Exit(2)
	}
	if events != "" {
		o.Events = strings.Split(events, ",")
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := bench.Run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bgcall-bench:", err)
		os.Exit(1)
	}
}

func durations(s string) ([]time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("duration list %q: %w", s, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func ints(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("number list %q: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}
