package chaos

import (
	"io"
	"time"
)

// Options configure a fault run. Zero fields take the defaults noted;
// Short switches them to a run of about a minute, for the test suite.
type Options struct {
	// Seed decides the far ends, the cancels and the faults.
	Seed uint64
	// Short: 45 s of load and 200 sessions, about a minute in all.
	Short bool
	// Load is how long sessions are created and faults injected; default
	// 150 s (Short: 45 s). The run then waits for every session to end.
	Load time.Duration
	// Sessions created during Load; default 800 (Short: 200): some 40
	// sessions live at once, so that every fault hits several.
	Sessions int
	// CancelShare is the share of sessions cancelled at a random moment;
	// default 0.3.
	CancelShare float64
	// FaultGap is the mean time between two faults; default 3 s.
	FaultGap time.Duration
	// Replicas and Nodes: default 3 bgcall replicas, 2 simulated nodes.
	Replicas, Nodes int
	// ReplicaCommand is the command line that starts this program as a
	// replica (IsReplica must then hold); default this executable with its
	// arguments.
	ReplicaCommand []string
	// Dir receives the replicas' logs; default a new temporary directory,
	// removed after a run without violations.
	Dir string
	// Progress, when set, receives a line per phase and per fault.
	Progress io.Writer
}

func (o *Options) fill() {
	load, sessions := 150*time.Second, 800
	if o.Short {
		load, sessions = 45*time.Second, 200
	}
	if o.Load <= 0 {
		o.Load = load
	}
	if o.Sessions <= 0 {
		o.Sessions = sessions
	}
	if o.CancelShare <= 0 {
		o.CancelShare = 0.3
	}
	if o.FaultGap <= 0 {
		o.FaultGap = 3 * time.Second
	}
	if o.Replicas <= 0 {
		o.Replicas = 3
	}
	if o.Nodes <= 0 {
		o.Nodes = 2
	}
}

// The replicas' timings. The simulator keeps FreeSWITCH's own time (a
// second lasts a second), so bgcall's timers and the nodes' agree, as in
// production; the values are production's scaled down so that a session
// lasts seconds and faults land in the middle of calls.
const (
	leaseTTL      = 2 * time.Second
	ringTime      = 3 * time.Second // each callee attempt; the caller leg too
	retryInterval = 500 * time.Millisecond
	maxAttempts   = 4
	maxTotal      = 45 * time.Second
	legGrace      = time.Second
	promptTimeout = 3 * time.Second
	parkTimeout   = 30 * time.Second // FreeSWITCH's own bound on a leg nobody steers
	orphanGrace   = 2 * time.Second
	pollInterval  = 50 * time.Millisecond
	promptLength  = time.Second // every prompt the simulator plays

	// settle bounds the wait, once the load is over, for every session to
	// end (the last one created may still make every attempt) and then
	// for every leg to be gone.
	settleSessions = maxTotal + 4*leaseTTL + 15*time.Second
	settleLegs     = 2*orphanGrace + promptTimeout + 10*time.Second
)
