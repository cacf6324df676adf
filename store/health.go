package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// failingAfter is how many calls of one kind in a row must fail for Check
// to report the store failing, and failingFor how recent the last of them
// must be: a kind that failed during a blip and has not been called since
// does not keep readiness red.
const (
	failingAfter = 3
	failingFor   = 30 * time.Second
)

// health counts, per kind of call, the calls to Redis that failed in a row.
type health struct {
	mu    sync.Mutex
	kinds map[string]*streak
}

type streak struct {
	n    int
	last error
	at   time.Time
}

func (h *health) record(kind string, err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kinds == nil {
		h.kinds = make(map[string]*streak)
	}
	st := h.kinds[kind]
	if st == nil {
		st = &streak{}
		h.kinds[kind] = st
	}
	if err == nil {
		st.n, st.last = 0, nil
		return
	}
	st.n, st.last, st.at = st.n+1, err, now
}

// failing describes the kinds of call failing at now, "" when none is.
func (h *health) failing(now time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for kind, st := range h.kinds {
		if st.n >= failingAfter && now.Sub(st.at) < failingFor {
			out = append(out, fmt.Sprintf("%s failed %d times in a row (last: %v)", kind, st.n, st.last))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// done records the outcome of one call of kind to Redis and returns err.
// A call its caller cancelled says nothing about Redis.
func (s *Store) done(kind string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	s.health.record(kind, err, time.Now())
	return err
}

// Check reports whether the store works: a write reaches Redis (which a
// Redis out of memory, a read-only replica or a lost connection refuse),
// and no kind of call has kept failing (failingAfter times in a row,
// lately), as when every claim fails on something in Redis. For
// readiness.
func (s *Store) Check(ctx context.Context) error {
	if err := s.rdb.Set(ctx, s.p+"ready", "1", 10*time.Second).Err(); err != nil {
		return fmt.Errorf("redis refuses a write: %w", err)
	}
	if f := s.health.failing(time.Now()); f != "" {
		return fmt.Errorf("the session store keeps failing: %s", f)
	}
	return nil
}
