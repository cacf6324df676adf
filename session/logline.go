package session

import (
	"reflect"
	"strings"

	"bgcall/store"
)

// logTransition writes the one log line of a transition of s (as stored
// after it) from state from: the session, A and B, the move, and attrs,
// further key-value pairs. A retry says when it is due. A pair whose value
// is empty or zero is left out, so that a line shows only what is known.
func (e *Engine) logTransition(s store.Session, from store.State, event store.Kind, attrs ...any) {
	all := append([]any{"session", s.ID, "caller", s.Caller, "callee", s.Callee,
		"from", from, "to", s.State, "event", event}, attrs...)
	if s.State == store.Waiting {
		all = append(all, "due", s.DueAt)
	}
	kept := make([]any, 0, len(all))
	for i := 0; i+1 < len(all); i += 2 {
		if v := reflect.ValueOf(all[i+1]); v.IsValid() && !v.IsZero() {
			kept = append(kept, all[i], all[i+1])
		}
	}
	e.log.Info("transition", kept...)
}

// reasonOf returns why a transition with entries happened, for its log
// line: the reason an outcome was reached, or why an attempt was put off.
func reasonOf(entries []store.Entry) string {
	for _, en := range entries {
		switch en.Kind {
		case store.KindFinished:
			_, reason, _ := strings.Cut(en.Note, ": ")
			return reason
		case store.KindDeferred:
			return en.Note
		}
	}
	return ""
}

// observe tells Options.Transitions of a transition of s (as stored after
// it) that wrote entries.
func (e *Engine) observe(s store.Session, entries []store.Entry) {
	if e.opt.Transitions != nil {
		e.opt.Transitions(s, entries)
	}
}

// checkCallbackURL refuses a request's callback URL unless the operator
// allows it.
func (e *Engine) checkCallbackURL(u string) error {
	switch {
	case u == "":
		return nil
	case e.opt.CallbackURL == nil:
		return &ValidationError{"callback_url", "this server takes no callback URL per request (webhooks.allow_request_url is off); leave it out, or ask the operator to allow it"}
	}
	if err := e.opt.CallbackURL(u); err != nil {
		return &ValidationError{"callback_url", err.Error()}
	}
	return nil
}
