// Package testutil holds the helpers that tests in several packages share.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Patience is how long WaitFor waits. A condition that holds returns at
// once, so only a failing test waits this long; it is generous because a
// loaded machine running several suites is slow, not broken.
const Patience = 20 * time.Second

// poll is how often WaitFor looks again.
const poll = 5 * time.Millisecond

// WaitFor polls cond until it holds, and fails the test, naming what was
// awaited, if it does not within Patience. It is for conditions that only
// polling can observe (another process, a server's state); when the code
// under test offers a signal, wait on that instead.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitFor(t, Patience, what, cond)
}

func waitFor(t testing.TB, patience time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", patience, what)
		}
		time.Sleep(poll)
	}
}

// SyncBuffer is a bytes.Buffer that a command may write while the test
// reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
