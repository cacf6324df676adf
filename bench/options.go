package bench

import (
	"log/slog"
	"time"

	"bgcall/internal/fsreal"
)

// Options configure a benchmark run. Zero fields take the defaults noted;
// Short switches every default to a run of a few seconds.
type Options struct {
	// Short runs small counts for a few seconds: for the test suite.
	Short bool
	// Out is where the JSON result is written; default
	// "bench-results/bench.json"; "-" writes none.
	Out string
	// Nodes is how many simulated FreeSWITCH nodes to start; default 3.
	Nodes int
	// Replicas is how many engine replicas share the load; default 1.
	Replicas int
	// Rates are the offered loads in new sessions per second, one
	// throughput run each, and Duration how long each is offered; defaults
	// {100, 500, 600}/s for 20s (short: {50}/s for 2s): a light load, the
	// target, and more than the target, to show whether the replica keeps up.
	Rates    []int
	Duration time.Duration
	// FreeSWITCH is the freeswitch binary of the real-FreeSWITCH runs;
	// default $BGCALL_FREESWITCH_BIN, else /usr/local/freeswitch/bin/freeswitch.
	// When it is not there the table says so in one line and the rest
	// runs; NoFreeSWITCH skips those runs anyway.
	FreeSWITCH   string
	NoFreeSWITCH bool
	// RealRates are the offered loads through one real FreeSWITCH node, in
	// new sessions per second, run in this order until the first that is
	// not sustained; RealDuration is how long each is offered. Defaults
	// {20, 40, 80}/s for 30s (short: {10}/s for 5s).
	RealRates    []int
	RealDuration time.Duration
	// Waiting are the numbers of waiting sessions at which Redis memory and
	// controller heap are measured; default {10k, 100k, 1M}
	// (short: {1k, 4k}).
	Waiting []int
	// LatenessWaiting is how many sessions wait (due far ahead) while
	// scheduler lateness is measured; default 100k (short: 4k). It is
	// reached by the Waiting steps, so it should be one of them.
	LatenessWaiting int
	// DueRate attempts fall due per second for DueDuration while lateness
	// is measured; defaults 1000/s for 15s (short: 100/s for 2s).
	DueRate     int
	DueDuration time.Duration
	// AsynqCheckIntervals are the asynq DelayedTaskCheckInterval values
	// the yardstick runs with, one run each; 0 is asynq's own default (5s).
	// Default {0, PollInterval}; short: {PollInterval}.
	AsynqCheckIntervals []time.Duration
	// PollInterval, Workers and ClaimBatch tune the engine; zero keeps
	// the engine's defaults (50ms, 16, 256).
	PollInterval time.Duration
	Workers      int
	ClaimBatch   int
	// Events, when set, replace the FreeSWITCH events the replicas
	// subscribe to (esl.Options.Events), and GOGC is the replicas' GOGC;
	// default 400, as deploy/systemd/bgcall.service runs bgcall (negative:
	// the GOGC environment variable, or Go's own default).
	Events []string
	GOGC   int
	// SimSecond is how long one FreeSWITCH second lasts in the simulator;
	// default 10ms, so a ring of 3 seconds takes 30ms.
	SimSecond time.Duration
	// LogLevel of the replicas' engine log; default slog.LevelWarn (at
	// Info the engine logs every transition).
	LogLevel slog.Level
	// ProfileDir, when set, receives CPU profiles of the replica during
	// each throughput and lateness run and heap profiles at each waiting
	// level.
	ProfileDir string
	// ReplicaCommand is the command line that starts a replica child;
	// default this executable with this process's arguments (the child's
	// call of Run sees the replica environment and becomes the replica).
	ReplicaCommand []string
	// Logger receives progress lines; default discards.
	Logger *slog.Logger
}

func (o *Options) fill() {
	if o.Out == "" {
		o.Out = "bench-results/bench.json"
	}
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.SimSecond <= 0 {
		o.SimSecond = 10 * time.Millisecond
	}
	if o.LogLevel == 0 {
		o.LogLevel = slog.LevelWarn
	}
	if o.GOGC == 0 {
		o.GOGC = 400
	}
	poll := o.PollInterval
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	if o.Short {
		if o.Rates == nil {
			o.Rates = []int{50}
		}
		defD(&o.Duration, 2*time.Second)
		if o.Waiting == nil {
			o.Waiting = []int{1000, 4000}
		}
		def(&o.LatenessWaiting, 4000)
		def(&o.DueRate, 100)
		defD(&o.DueDuration, 2*time.Second)
		if o.AsynqCheckIntervals == nil {
			o.AsynqCheckIntervals = []time.Duration{poll}
		}
		if o.RealRates == nil {
			o.RealRates = []int{10}
		}
		defD(&o.RealDuration, 5*time.Second)
	}
	if o.Rates == nil {
		o.Rates = []int{100, 500, 600}
	}
	if o.FreeSWITCH == "" {
		o.FreeSWITCH, _ = fsreal.Installed()
	}
	if o.RealRates == nil {
		o.RealRates = []int{20, 40, 80}
	}
	defD(&o.RealDuration, 30*time.Second)
	defD(&o.Duration, 20*time.Second)
	if o.Waiting == nil {
		o.Waiting = []int{10_000, 100_000, 1_000_000}
	}
	def(&o.LatenessWaiting, 100_000)
	def(&o.DueRate, 1000)
	defD(&o.DueDuration, 15*time.Second)
	if o.AsynqCheckIntervals == nil {
		o.AsynqCheckIntervals = []time.Duration{0, poll}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func def(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

func defD(v *time.Duration, d time.Duration) {
	if *v <= 0 {
		*v = d
	}
}
