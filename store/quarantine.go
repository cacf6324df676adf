package store

import (
	"context"
	"fmt"
	"log/slog"
)

// decode rebuilds session id from its hash h; a record that cannot be
// decoded is set aside (quarantined) and returned with Quarantine set, as
// far as it decodes, so that one bad record never stops a listing, a
// claim or a restart.
func (s *Store) decode(ctx context.Context, id string, h map[string]string) (Session, error) {
	sess, err := decodeSession(id, h)
	if err == nil {
		return sess, nil
	}
	why, qerr := s.setAside(ctx, id)
	if qerr != nil {
		return sess, fmt.Errorf("%w; setting it aside failed: %w", err, qerr)
	}
	sess.Quarantine = why
	return sess, nil
}

// setAside quarantines the record of session id, which did not decode, and
// returns why it cannot be decoded. The script decides by the same rules
// as decodeSession; should they ever disagree, the record stays and the
// error says so.
func (s *Store) setAside(ctx context.Context, id string) (string, error) {
	res, err := quarantineScript.Run(ctx, s.rdb, []string{s.sessionKey(id)},
		s.p, id, s.opts.Retention.Milliseconds()).Slice()
	if s.done("quarantine", err) != nil {
		return "", fmt.Errorf("quarantine session %s: %w", id, err)
	}
	if len(res) == 0 {
		return "", fmt.Errorf("quarantine session %s: %w", id, ErrNotFound)
	}
	why, _ := res[0].(string)
	if why == "" {
		return "", fmt.Errorf("quarantine session %s: the store's script finds the record sound, the Store does not (a bug)", id)
	}
	if len(res) > 1 && res[1] == int64(codeDone) { // set aside by this call, not before
		s.quarantined(id, why)
	}
	return why, nil
}

// quarantined tells, once per record, that session id was set aside.
func (s *Store) quarantined(id, why string) {
	if s.opts.OnQuarantine != nil {
		s.opts.OnQuarantine(id, why)
		return
	}
	slog.Warn("store: set aside (quarantined) a session record that cannot be decoded; it is steered by nobody and forgotten after the retention",
		"session", id, "reason", why)
}

// quarantinedIn reports the {id, why, ...} a script quarantined.
func (s *Store) quarantinedIn(v any) {
	list, _ := v.([]any)
	for i := 0; i+1 < len(list); i += 2 {
		id, _ := list[i].(string)
		why, _ := list[i+1].(string)
		s.quarantined(id, why)
	}
}
