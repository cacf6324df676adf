package session_test

import (
	"slices"
	"testing"
	"time"

	"bgcall/session"
	"bgcall/store"
)

// TestClosingPromptEndsWithItsPlayback: B is released as soon as the
// closing prompt has played, not when PromptTimeout runs out. FreeSWITCH
// names a prompt given by a relative path (as the default prompts are) by
// the file it found in its sounds directory, in PLAYBACK_STOP as in
// PLAYBACK_START, so the end of the prompt must be recognised by that name.
func TestClosingPromptEndsWithItsPlayback(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.PromptTimeout = 30 * time.Second
		o.ParkTimeout = 1000 * time.Second // 20 s of simulator time: not what ends B here
	}))
	prompt := session.DefaultPrompts().CallerUnavailable
	h.nodes[0].SetPrompt(prompt, 50*time.Millisecond)
	h.nodes[0].SetSubscriber("1912", answer)
	h.nodes[0].SetSubscriber("1911", noAnswer)
	s := h.create("1911", "1912")
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.CallerMissed {
		t.Fatalf("outcome %s, want caller_missed", got.Outcome)
	}
	h.waitIdle()
	b := h.originates("1912")[0]
	if held := b.Ended.Sub(got.FinishedAt); held > 3*time.Second {
		t.Errorf("B was released %v after the outcome; the prompt lasts 50ms", held)
	}
	if p := h.prompts(b.UUID); !slices.Contains(p, prompt) {
		t.Errorf("B heard %v, want %s", p, prompt)
	}
}
