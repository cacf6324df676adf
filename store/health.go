package store

import (
	"context"
	"errors"
	"sync"
	"time"
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

func (h *health) record(kind string, err error) {
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
	st.n, st.last, st.at = st.n+1, err, time.Now()
}

// done records the outcome of one call of kind to Redis and returns err.
// A call its caller cancelled says nothing about Redis.
func (s *Store) done(kind string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	s.health.record(kind, err)
	return err
}
