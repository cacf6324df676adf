package store

import (
	"context"
	"fmt"
	"time"
)

// Apply stores next as the session's new content if the stored session still
// has Version expVersion and Fence next.Fence, and is owned by next.Owner (or
// next.Owner is "", which releases it). The stored session becomes next (the
// script writes only the fields that differ), entries are appended to the
// timeline, and the indexes follow the new state:
//
//   - Waiting: the owner is cleared and the session is due at next.DueAt (now
//     when zero);
//   - any other live state needs an owner: Apply can keep or release an
//     owner, never set a new one (ownership moves through ClaimDue and
//     TakeOver, which bump the fence);
//   - Finished: the session leaves the due set, its owner's set, its caller's
//     and callee's live hashes (dedupe and caps) and the live counts, joins
//     their history sets, and its hash and timeline expire after
//     Options.Retention. A finished session may be applied again only to stay
//     finished (for example to append a notification result).
//
// The change is published for Subscribe. The returned session has Version
// expVersion+1 and UpdatedAt now; its Fence is next.Fence. A replayed
// Apply presents a version that has moved on and gets ErrStale, so nothing
// changes twice. Errors: ErrNotFound, ErrStale, ErrFinished (also ErrStale),
// ErrFenced, ErrInvalid.
func (s *Store) Apply(ctx context.Context, next Session, expVersion int64, entries []Entry, now time.Time) (Session, error) {
	return s.applyStep(ctx, next, expVersion, entries, now, false)
}

// ApplyCancel is Apply for a step taken by someone who does not steer the
// session, a cancel: while the steering replica is writing a leg's
// originate (BeginSending), it is refused with ErrSending and writes
// nothing; tried again once the mark is gone, it is acknowledged after the
// originate left, so the cancel's teardown finds the leg to hang up.
func (s *Store) ApplyCancel(ctx context.Context, next Session, expVersion int64, entries []Entry, now time.Time) (Session, error) {
	return s.applyStep(ctx, next, expVersion, entries, now, true)
}

func (s *Store) applyStep(ctx context.Context, next Session, expVersion int64, entries []Entry, now time.Time, cancel bool) (Session, error) {
	if err := validateNext(&next, now); err != nil {
		return Session{}, fmt.Errorf("apply to session %s: %w", next.ID, err)
	}
	next.Version = expVersion + 1
	next.UpdatedAt = now
	next = normalize(next)

	var dueAt int64
	if next.State == Waiting {
		dueAt = ms(next.DueAt)
	}
	base, diff := s.views.get(next.ID, expVersion)
	token := newID() // one per call: the script may run twice, the call once
	for {
		c, err := s.apply(ctx, next, expVersion, entries, now, dueAt, base, diff, token, cancel)
		if s.done("apply", err) != nil {
			s.views.drop(next.ID)
			return Session{}, fmt.Errorf("apply to session %s: %w", next.ID, err)
		}
		if c == codeDone {
			s.views.put(next)
			return next, nil
		}
		s.views.drop(next.ID)
		switch c {
		case codeNotFound:
			return Session{}, fmt.Errorf("apply to session %s: %w", next.ID, ErrNotFound)
		case codeFenced:
			return Session{}, fmt.Errorf("apply to session %s with fence %d as %q: %w", next.ID, next.Fence, next.Owner, ErrFenced)
		case codeStale:
			return Session{}, fmt.Errorf("apply to session %s at version %d: %w", next.ID, expVersion, ErrStale)
		case codeFinished:
			return Session{}, fmt.Errorf("apply %s to session %s: %w", next.State, next.ID, ErrFinished)
		case codeSending:
			return Session{}, fmt.Errorf("apply to session %s: %w", next.ID, ErrSending)
		case codePartiesChanged:
			return Session{}, fmt.Errorf("apply to session %s: %w: caller and callee cannot change", next.ID, ErrInvalid)
		case codeUndecodable:
			why, err := s.setAside(ctx, next.ID)
			if err != nil {
				return Session{}, fmt.Errorf("apply to session %s: %w", next.ID, err)
			}
			return Session{}, fmt.Errorf("apply to session %s: %w (%s)", next.ID, ErrQuarantined, why)
		case codeOtherBase:
			if diff {
				diff = false // another session under the same id: send it whole
				continue
			}
		}
		return Session{}, fmt.Errorf("apply to session %s: unexpected reply %d", next.ID, c)
	}
}

// apply runs the apply script once: with diff, it sends only what turns
// base (the stored session at expVersion, as this Store last saw it) into
// next; otherwise the whole of next.
// With cancel, the script also refuses while a leg's originate is on its
// way (ApplyCancel).
func (s *Store) apply(ctx context.Context, next Session, expVersion int64, entries []Entry, now time.Time, dueAt int64, base Session, diff bool, token string, cancel bool) (code, error) {
	retention := s.opts.Retention
	keys := []string{
		s.sessionKey(next.ID), s.timelineKey(next.ID), s.dueKey(),
		s.callerLiveKey(next.Caller), s.calleeLiveKey(next.Callee),
		s.callerHistoryKey(next.Caller), s.calleeHistoryKey(next.Callee),
		s.countKey(), s.gcKey(),
	}
	if cancel {
		keys = append(keys, s.sendingKey(next.ID))
	}
	var baseCreated any = ""
	var set, del []any
	if diff {
		baseCreated = ms(base.CreatedAt)
		set, del = changes(&base, &next)
	} else {
		set = next.fields()
	}
	args := make([]any, 0, 19+len(entries)+len(del)+len(set))
	args = append(args,
		next.ID, s.p, expVersion, next.Fence, next.Owner, string(next.State), dueAt,
		retention.Milliseconds(), ms(now.Add(retention)), next.ID+"|"+next.Caller+"|"+next.Callee,
		next.Caller, next.Callee, s.channel(), next.Version, string(next.Outcome), token, baseCreated,
		len(entries))
	for _, e := range entries {
		if e.At.IsZero() {
			e.At = now
		}
		args = append(args, encodeEntry(e))
	}
	args = append(args, len(del))
	args = append(args, del...)
	args = append(args, set...)
	c, err := applyScript.Run(ctx, s.rdb, keys, args...).Int64()
	return code(c), err
}

func validateNext(next *Session, now time.Time) error {
	if err := checkName("session id", next.ID, true); err != nil {
		return err
	}
	if err := checkName("caller", next.Caller, true); err != nil {
		return err
	}
	if err := checkName("callee", next.Callee, true); err != nil {
		return err
	}
	if next.CreatedAt.IsZero() {
		return fmt.Errorf("%w: CreatedAt is zero; apply changes to the session as read from the store", ErrInvalid)
	}
	switch next.State {
	case Waiting:
		next.Owner = ""
		if next.DueAt.IsZero() {
			next.DueAt = now
		}
	case DialingCallee, Confirming, CalleeHold, Bridged:
		if next.Owner == "" {
			return fmt.Errorf("%w: a session in state %s needs an owner", ErrInvalid, next.State)
		}
	case Finished:
		if next.FinishedAt.IsZero() {
			next.FinishedAt = now
		}
	default:
		return fmt.Errorf("%w: unknown state %q", ErrInvalid, next.State)
	}
	return nil
}
