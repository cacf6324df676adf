package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook request.
const (
	HeaderSignature   = "Bgcall-Signature" // "sha256=" and the hex HMAC-SHA256 of timestamp "." body
	HeaderTimestamp   = "Bgcall-Timestamp" // Unix seconds when this try was signed
	HeaderEvent       = "Bgcall-Event"     // the event's type
	HeaderIdempotency = "Idempotency-Key"  // the event's id: the same on every retry
)

// Sign returns the Bgcall-Signature value of body sent at timestamp (Unix
// seconds, as in Bgcall-Timestamp): "sha256=" and the hex HMAC-SHA256,
// keyed with secret, of the timestamp, a dot and the body. The timestamp is
// signed so that a receiver can refuse a replayed old request.
func Sign(secret []byte, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrTooOld       = errors.New("webhook timestamp is outside the tolerance")
)

// Verify checks a received request as a receiver written in Go would:
// signature and timestamp are its Bgcall-Signature and Bgcall-Timestamp
// headers, body its raw body. A timestamp further than tolerance from now
// is refused (a replay), as is a signature that does not match.
func Verify(secret []byte, signature, timestamp string, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrBadSignature, HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %v from now", ErrTooOld, d.Round(time.Second))
	}
	want := Sign(secret, ts, body)
	if !strings.HasPrefix(signature, "sha256=") || !hmac.Equal([]byte(signature), []byte(want)) {
		return ErrBadSignature
	}
	return nil
}
