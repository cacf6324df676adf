package webhook

import (
	"errors"
	"testing"
	"time"
)

// TestSignKnownVector pins the signature to HMAC-SHA256 over
// "<timestamp>.<body>", as docs/webhooks.md tells receivers to compute it
// (the expected value comes from Python's hmac module).
func TestSignKnownVector(t *testing.T) {
	got := Sign([]byte("whsec_test"), 1767225600, []byte(`{"id":"s1.1.created"}`))
	want := "sha256=43a54e8c3050116ad478737753639b7050f52fd0b263a682207e4aeb03ba8315"
	if got != want {
		t.Fatalf("Sign = %s\nwant  %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("whsec_test"), []byte(`{"id":"s1.1.created"}`)
	now := time.Unix(1767225600, 0)
	sig := Sign(secret, now.Unix(), body)
	ts := "1767225600"
	if err := Verify(secret, sig, ts, body, 5*time.Minute, now.Add(time.Minute)); err != nil {
		t.Fatalf("a fresh, intact request: %v", err)
	}
	for name, c := range map[string]struct {
		secret, body []byte
		sig, ts      string
		now          time.Time
		want         error
	}{
		"body changed":     {secret, []byte(`{"id":"s1.1.finished"}`), sig, ts, now, ErrBadSignature},
		"other secret":     {[]byte("whsec_other"), body, sig, ts, now, ErrBadSignature},
		"timestamp moved":  {secret, body, sig, "1767225601", now, ErrBadSignature},
		"no scheme":        {secret, body, sig[len("sha256="):], ts, now, ErrBadSignature},
		"not a timestamp":  {secret, body, sig, "yesterday", now, ErrBadSignature},
		"replayed later":   {secret, body, sig, ts, now.Add(6 * time.Minute), ErrTooOld},
		"from the future":  {secret, body, sig, ts, now.Add(-6 * time.Minute), ErrTooOld},
		"empty signature":  {secret, body, "", ts, now, ErrBadSignature},
		"signature prefix": {secret, body, sig[:20], ts, now, ErrBadSignature},
	} {
		if err := Verify(c.secret, c.sig, c.ts, c.body, 5*time.Minute, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", name, err, c.want)
		}
	}
}
