package metrics

import (
	"testing"
	"time"

	"bgcall/freeswitch"
)

// The hooks sit on the call path of every attempt and every ESL command.
func BenchmarkDialAttempt(b *testing.B) {
	m := New(nil, BuildInfo{})
	for b.Loop() {
		m.DialAttempt("callee", freeswitch.NoAnswer.Class())
	}
}

func BenchmarkCommandDone(b *testing.B) {
	m := New(nil, BuildInfo{})
	m.AddNode("fs1")
	for b.Loop() {
		m.CommandDone("fs1", "bgapi", 3*time.Millisecond, nil)
	}
}

func BenchmarkGather(b *testing.B) {
	m, reg := New(nil, BuildInfo{}), NewRegistry()
	reg.MustRegister(m)
	for i := range 8 {
		m.AddNode(string(rune('a' + i)))
	}
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
