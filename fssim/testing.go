package fssim

import (
	"strings"
	"testing"
	"time"
)

// StartT starts a node for a test. At cleanup it fails the test if channels
// are still alive, then closes the node.
func StartT(t testing.TB, opts Options) *Node {
	t.Helper()
	n, err := Start(opts)
	if err != nil {
		t.Fatalf("start FreeSWITCH simulator: %v", err)
	}
	t.Cleanup(func() {
		n.RequireIdle(t)
		n.Close()
	})
	return n
}

// RequireIdle fails the test if channels are still alive on the node after a
// short grace period (hangups in flight may finish).
func (n *Node) RequireIdle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		live := n.Channels()
		if len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var names []string
			for _, c := range live {
				names = append(names, c.UUID+" ("+c.Name+", "+c.AnswerState+")")
			}
			t.Errorf("FreeSWITCH simulator %s: %d channel(s) left alive: %s", n.Addr(), len(live), strings.Join(names, ", "))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
