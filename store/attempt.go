package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// BeginAttempt begins the next callee attempt of s on node, as a claim
// does for the sessions it starts (ClaimAndStart), for a waiting session
// that its owner claimed or took over without a node for it: s, at its
// stored version and fence and owned by s.Owner, becomes DialingCallee
// with Attempts+1, on node, with a new callee leg (named in the script,
// as a claim names it) and no caller leg, and an "attempt" entry on its
// timeline. The step is the claim's own (luaBeginAttempt), so the two
// cannot drift apart.
//
// It fails with ErrNotFound, ErrFenced (another owner or fence), ErrStale
// (the version moved, or s is not waiting any more) or ErrQuarantined,
// and then writes nothing.
func (s *Store) BeginAttempt(ctx context.Context, sess Session, node string, now time.Time) (Session, error) {
	if node == "" {
		return Session{}, fmt.Errorf("begin an attempt of session %s: %w: a callee attempt needs a node", sess.ID, ErrInvalid)
	}
	var b [12]byte
	rand.Read(b[:])
	keys := []string{s.sessionKey(sess.ID), s.timelineKey(sess.ID), s.countKey()}
	args := []any{sess.ID, sess.Fence, sess.Owner, sess.Version, ms(now), node, attemptEntry(node, now),
		hex.EncodeToString(b[:]), newID(), s.channel()}
	res, err := beginScript.Run(ctx, s.rdb, keys, args...).Slice()
	if s.done("begin", err) != nil {
		return Session{}, fmt.Errorf("begin an attempt of session %s: %w", sess.ID, err)
	}
	c, _ := res[0].(int64)
	switch code(c) {
	case codeDone:
	case codeNotFound:
		return Session{}, fmt.Errorf("begin an attempt of session %s: %w", sess.ID, ErrNotFound)
	case codeFenced:
		return Session{}, fmt.Errorf("begin an attempt of session %s with fence %d as %q: %w", sess.ID, sess.Fence, sess.Owner, ErrFenced)
	case codeStale:
		return Session{}, fmt.Errorf("begin an attempt of session %s at version %d: %w", sess.ID, sess.Version, ErrStale)
	case codeUndecodable:
		why, err := s.setAside(ctx, sess.ID)
		if err != nil {
			return Session{}, fmt.Errorf("begin an attempt of session %s: %w", sess.ID, err)
		}
		return Session{}, fmt.Errorf("begin an attempt of session %s: %w (%s)", sess.ID, ErrQuarantined, why)
	default:
		return Session{}, fmt.Errorf("begin an attempt of session %s: unexpected reply %v", sess.ID, res)
	}
	if len(res) != 4 {
		return Session{}, fmt.Errorf("begin an attempt of session %s: unexpected reply %v", sess.ID, res)
	}
	version, err1 := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
	attempts, err2 := strconv.Atoi(fmt.Sprint(res[2]))
	leg, _ := res[3].(string)
	if err1 != nil || err2 != nil || leg == "" {
		return Session{}, fmt.Errorf("begin an attempt of session %s: unexpected reply %v", sess.ID, res)
	}
	next := sess
	next.State, next.Attempts, next.Node, next.CalleeLeg, next.CallerLeg = DialingCallee, attempts, node, leg, ""
	next.Version, next.UpdatedAt = version, now
	next = normalize(next)
	s.views.put(next)
	return next, nil
}

// attemptEntry is the timeline entry of a callee attempt on node, before
// the script that begins it adds the attempt number and the leg.
func attemptEntry(node string, now time.Time) string {
	return encodeEntry(Entry{At: now, Kind: KindAttempt, State: DialingCallee, Leg: "callee", Node: node})
}
