package uuid

import (
	"testing"

	"bgcall/freeswitch"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := New()
		if err := freeswitch.ValidUUID(u); err != nil {
			t.Fatal(err)
		}
		if u[14] != '4' || !(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b') {
			t.Fatalf("%s is not a version 4, RFC 9562 variant UUID", u)
		}
		if seen[u] {
			t.Fatalf("%s made twice", u)
		}
		seen[u] = true
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New()
	}
}
