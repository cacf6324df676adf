package store

import (
	"log/slog"
	"time"
)

// DataLost returns when (by Now) a Heartbeat of this Store last found that
// Redis had lost its data: a restart without persistence, a FLUSHALL, a
// failover to a replica that had not synced. Zero when it never did.
//
// Redis keeps a random mark of its data set (p epoch), written by the
// first Heartbeat that finds none. A Heartbeat that finds another mark
// than the one it saw before, or none, knows that everything written
// before is gone: sessions, timelines, leases, the due set. The Store
// answers from what is left (ErrNotFound for a session that was lost); the
// caller decides what that means for the calls it steers. A loss while no
// Store of this process was running is not seen.
func (s *Store) DataLost() time.Time {
	if at := s.lost.Load(); at != 0 {
		return time.UnixMilli(at).UTC()
	}
	return time.Time{}
}

// sawEpoch takes the data set's mark as read now.
func (s *Store) sawEpoch(v string) {
	prev := s.epoch.Swap(&v)
	if prev == nil || *prev == v {
		return
	}
	s.lost.Store(ms(s.Now()))
	if s.opts.OnDataLoss != nil {
		s.opts.OnDataLoss()
		return
	}
	slog.Error("store: REDIS LOST ITS DATA: every session, timeline, lease and due time written before is gone " +
		"(a restart without persistence, FLUSHALL, or a failover to a replica that had not synced)")
}
