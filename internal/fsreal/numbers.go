package fsreal

import (
	"fmt"
	"time"
)

// DialTemplate reaches the test dialplan: set it as both dial templates
// (dial.callee_template, dial.caller_template).
const DialTemplate = "loopback/{number}/default"

// The numbers of the test dialplan (conf/dialplan/default/00_bgcall.xml).
// Each ends with id, any digits, so that the subscribers of a test have
// numbers of their own (caller ID checks, one callee among several).

// AnswerAfter is a far end that rings for d (CHANNEL_PROGRESS), answers and
// parks. d is whole milliseconds up to 9.999 s.
func AnswerAfter(d time.Duration, id string) string { return "20" + ms(d) + id }

// NoAnswer is a far end that rings until the caller gives up.
func NoAnswer(id string) string { return "21" + id }

// EarlyMedia is a far end that sends early media (CHANNEL_PROGRESS_MEDIA)
// and never answers.
func EarlyMedia(id string) string { return "22" + id }

// Busy hangs up USER_BUSY at once.
func Busy(id string) string { return "23" + id }

// Reject hangs up CALL_REJECTED at once.
func Reject(id string) string { return "24" + id }

// AnswerThenHangup answers after ring and hangs up NORMAL_CLEARING talk
// later; each is whole milliseconds up to 9.999 s.
func AnswerThenHangup(ring, talk time.Duration, id string) string {
	return "25" + ms(ring) + ms(talk) + id
}

// ms is d as the dialplan's four-digit millisecond field.
func ms(d time.Duration) string {
	n := d.Milliseconds()
	if n < 0 || n > 9999 {
		panic(fmt.Sprintf("fsreal: %v does not fit the dialplan's 0-9999 ms field", d))
	}
	return fmt.Sprintf("%04d", n)
}
