package session

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestLeaseFence runs on synctest's clock: a lease renewed every third of
// its length stays held; one whose renewal comes after the lease less the
// margin is not held in between, and that renewal reports the lapse and
// keeps commands withheld until the sessions were rechecked.
func TestLeaseFence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 9 * time.Second
		f := newLeaseFence(ttl)
		if f.held() {
			t.Fatal("held before the first renewal")
		}
		if f.renewed(time.Now()) {
			t.Fatal("the first renewal reported a lapse")
		}
		for range 5 {
			time.Sleep(ttl / 3)
			if !f.held() {
				t.Fatalf("not held %v after a renewal", ttl/3)
			}
			if f.renewed(time.Now()) {
				t.Fatal("a renewal on time reported a lapse")
			}
		}
		time.Sleep(ttl - ttl/5) // the last renewal is now as old as the lease less the margin
		if f.held() {
			t.Fatal("held past the lease less the margin")
		}
		if !f.renewed(time.Now()) {
			t.Fatal("a renewal after a lapse did not report it")
		}
		if f.held() {
			t.Fatal("held before the sessions were rechecked")
		}
		f.resume()
		if !f.held() {
			t.Fatal("not held after the recheck")
		}
		// A renewal sent before a pause and acknowledged after it counts
		// from when it was sent.
		sent := time.Now()
		time.Sleep(ttl)
		f.renewed(sent)
		if f.held() {
			t.Fatal("held on a renewal sent a whole lease ago")
		}
	})
}
