package fssim

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// starveNode holds the node lock on the only P until every deadline armed so
// far has long passed. The Go runtime then finds all of those timers expired
// in one pass, the state in which independent timer callbacks often start
// latest first, as they do when the process is descheduled.
func starveNode(n *Node, f func()) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	n.mu.Lock()
	f()
	start := time.Now()
	for time.Since(start) < 30*time.Millisecond {
		// Spin: sleeping would free the P and let the runtime serve each
		// timer on time.
	}
	n.mu.Unlock()
}

// TestTimersActInDeadlineOrder: timers whose deadlines have all passed act
// earlier deadline first, as on one FreeSWITCH channel.
func TestTimersActInDeadlineOrder(t *testing.T) {
	n := StartT(t, Options{Heartbeat: -1})
	for round := 0; round < 5; round++ {
		var got []string
		starveNode(n, func() {
			// Armed latest deadline first, so that arming order alone
			// cannot pass; from one instant, so that a pause between the
			// calls (a loaded machine) cannot reorder the deadlines.
			base := time.Now()
			n.at(base.Add(3*time.Millisecond), func() { got = append(got, "3ms") })
			n.at(base.Add(2*time.Millisecond), func() { got = append(got, "2ms") })
			n.at(base.Add(1*time.Millisecond), func() { got = append(got, "1ms") })
		})
		want := []string{"1ms", "2ms", "3ms"}
		waitFor(t, n, func() bool { return len(got) == len(want) })
		if !slices.Equal(got, want) {
			t.Errorf("round %d: timers acted in order %q, want %q", round, got, want)
		}
	}
}

// TestEqualDeadlinesActInArmingOrder: deadlines equal to the nanosecond act
// in the order they were armed.
func TestEqualDeadlinesActInArmingOrder(t *testing.T) {
	n := StartT(t, Options{Heartbeat: -1})
	var got []int
	starveNode(n, func() {
		tie := time.Now().Add(time.Millisecond)
		for i := range 5 {
			n.at(tie, func() { got = append(got, i) })
		}
	})
	want := []int{0, 1, 2, 3, 4}
	waitFor(t, n, func() bool { return len(got) == len(want) })
	if !slices.Equal(got, want) {
		t.Errorf("timers with one deadline acted in order %v, want the arming order %v", got, want)
	}
}

// TestRingBeatsLongerOriginateTimeout: a far end that answers before the
// originate times out answers, even when the node only gets to both timers
// after both have expired. The timeout is armed first, so a node serving
// its timers in arming order, or in reverse, would hang up NO_ANSWER.
func TestRingBeatsLongerOriginateTimeout(t *testing.T) {
	n := StartT(t, Options{Second: 5 * time.Millisecond, Heartbeat: -1,
		Default: Behavior{Action: Answer, Ring: 2 * time.Millisecond}})
	for round := 0; round < 10; round++ {
		var res string
		starveNode(n, func() {
			n.originate("{originate_timeout=1}user/1000 &park()", func(r string) { res = r })
		})
		waitFor(t, n, func() bool { return res != "" })
		if !strings.HasPrefix(res, "+OK ") {
			t.Errorf("round %d: originate ringing 2ms with a 5ms timeout returned %q, want +OK", round, res)
			continue
		}
		if err := n.FarEndHangup(strings.TrimSpace(strings.TrimPrefix(res, "+OK ")), "NORMAL_CLEARING"); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls done under the node lock, until the timers it waits for
// have acted and written their last.
func waitFor(t *testing.T, n *Node, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.mu.Lock()
		ok := done()
		n.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("timers did not act within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
