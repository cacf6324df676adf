package phone_test

import (
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/phone"
)

// BenchmarkFeatureCodeRoundTrip measures one *89 call end to end with a
// prompt of 1 ms: the socket application connecting, connect, myevents,
// answer, the store lookup, the prompt, hangup and the connection's close.
func BenchmarkFeatureCodeRoundTrip(b *testing.B) {
	r := newRig(b)
	r.node.SetPrompt(phone.DefaultPrompts().NotFound, time.Millisecond)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		uuid, err := r.node.Call(fssim.CallOptions{From: "1001", To: "*89", Socket: r.srv.Addr()})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, ok := r.node.Channel(uuid); !ok {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
}
