package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Create stores sess as a new waiting session with first as its first
// timeline entry, unless an equivalent session exists:
//
//   - a session created for the same idempotency key is returned as is;
//   - a live session for the same (caller, callee) pair is returned as is (and
//     the idempotency key, if any, is mapped to it);
//
// in both cases created is false. Otherwise the caps of lim are checked
// (ErrLimitCaller, ErrLimitCallee) and the session is stored with Version 1,
// State Waiting, no owner, CreatedAt = UpdatedAt = now, and DueAt = sess.DueAt
// (now when zero). An empty sess.ID gets a random one. Every refusal stores
// nothing: validation happens before the script, and the script checks every
// condition before its first write.
func (s *Store) Create(ctx context.Context, sess Session, first Entry, lim Limits, now time.Time) (Session, bool, error) {
	if sess.ID == "" {
		sess.ID = newID()
	}
	if err := validateNew(sess); err != nil {
		return Session{}, false, fmt.Errorf("create session: %w", err)
	}
	sess.State = Waiting
	sess.Outcome, sess.Owner = "", ""
	sess.Version, sess.Fence = 1, 0
	sess.CreatedAt, sess.UpdatedAt = now, now
	if sess.DueAt.IsZero() {
		sess.DueAt = now
	}
	if first.At.IsZero() {
		first.At = now
	}
	if first.State == "" {
		first.State = Waiting
	}
	sess = normalize(sess)

	got, created, err := s.create(ctx, sess, first, lim)
	if errors.Is(err, ErrQuarantined) {
		// The pair's live session could not be decoded and was set aside
		// just now, which frees the pair. (One found by the idempotency
		// key is found again.)
		got, created, err = s.create(ctx, sess, first, lim)
	}
	return got, created, err
}

// create runs the create script once.
func (s *Store) create(ctx context.Context, sess Session, first Entry, lim Limits) (Session, bool, error) {
	keys := []string{
		s.sessionKey(sess.ID), s.timelineKey(sess.ID), s.dueKey(),
		s.callerLiveKey(sess.Caller), s.calleeLiveKey(sess.Callee),
		s.idemKey(sess.IdempotencyKey), s.indexKey(), s.countKey(),
	}
	args := []any{
		sess.ID, s.p, sess.IdempotencyKey, s.opts.IdempotencyTTL.Milliseconds(),
		lim.PerCaller, lim.PerCallee, ms(sess.CreatedAt), ms(sess.DueAt),
		encodeEntry(first), s.channel(), sess.Caller, sess.Callee,
	}
	args = append(args, sess.fields()...)
	if e := encodeEntry(first); e != encodeEntry(defaultFirst(sess)) {
		args = append(args, fFirst, e)
	}
	res, err := createScript.Run(ctx, s.rdb, keys, args...).Slice()
	if s.done("create", err) != nil {
		return Session{}, false, fmt.Errorf("create session %s: %w", sess.ID, err)
	}
	c, _ := res[0].(int64)
	switch code(c) {
	case codeDone:
		return sess, true, nil
	case codeExisting:
		if len(res) != 3 {
			return Session{}, false, fmt.Errorf("create session %s: unexpected reply %v", sess.ID, res)
		}
		id, _ := res[1].(string)
		h, err := flatToMap(res[2])
		if err != nil {
			return Session{}, false, fmt.Errorf("create session %s: existing %s: %w", sess.ID, id, err)
		}
		existing, err := s.decode(ctx, id, h)
		if err != nil {
			return Session{}, false, fmt.Errorf("create session %s: %w", sess.ID, err)
		}
		if existing.Quarantine != "" {
			return existing, false, fmt.Errorf("create session %s: the equivalent session %s: %w (%s)", sess.ID, id, ErrQuarantined, existing.Quarantine)
		}
		return existing, false, nil
	case codeCallerCap:
		return Session{}, false, fmt.Errorf("create session for caller %s: %w (limit %d)", sess.Caller, ErrLimitCaller, lim.PerCaller)
	case codeCalleeCap:
		return Session{}, false, fmt.Errorf("create session for callee %s: %w (limit %d)", sess.Callee, ErrLimitCallee, lim.PerCallee)
	case codeIDInUse:
		return Session{}, false, fmt.Errorf("create session %s: %w", sess.ID, ErrConflict)
	}
	return Session{}, false, fmt.Errorf("create session %s: unexpected reply %v", sess.ID, res)
}

func validateNew(sess Session) error {
	if err := checkName("session id", sess.ID, true); err != nil {
		return err
	}
	if err := checkName("caller", sess.Caller, true); err != nil {
		return err
	}
	if err := checkName("callee", sess.Callee, true); err != nil {
		return err
	}
	if sess.Caller == sess.Callee {
		return fmt.Errorf("%w: caller and callee are the same number %s", ErrInvalid, sess.Caller)
	}
	if len(sess.IdempotencyKey) > 256 {
		return fmt.Errorf("%w: idempotency key is longer than 256 bytes", ErrInvalid)
	}
	return nil
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns 16 characters of crypto randomness (80 bits): short, because
// the id is repeated in several keys and sets per session.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}
