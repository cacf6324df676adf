package esl

import (
	"os"
	"path/filepath"
	"testing"

	"bgcall/freeswitch"
)

// BenchmarkParseEvent parses a captured CHANNEL_ANSWER (about a hundred
// headers, as every channel event has) and reads the headers the session
// engine reads: what each event costs a replica before any logic runs.
func BenchmarkParseEvent(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(fixtures, "events-bridge.raw"))
	if err != nil {
		b.Skipf("fixtures not available: %v", err)
	}
	var payload []byte
	for _, f := range readFrames(b, data) {
		if f.header.Get("Content-Type") == "text/event-plain" && len(f.body) > len(payload) {
			payload = f.body
		}
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := ParseEvent("fs1", payload)
		if err != nil || ev.Name == "" {
			b.Fatal(err)
		}
		_ = ev.Var("bgcall_session")
		_ = ev.Var("bgcall_role")
		_ = ev.Header(freeswitch.HeaderUniqueID)
	}
}
