package freeswitch

import (
	"errors"
	"testing"
)

func TestParseCause(t *testing.T) {
	tests := []struct {
		in   string
		want Cause
	}{
		{"NORMAL_CLEARING", NormalClearing},
		{"no_answer", NoAnswer},
		{" USER_BUSY\n", UserBusy},
		{"17", UserBusy},
		{"487", OriginatorCancel},
		{"825", RejectAll},
		{"999", Cause("999")},
		{"SOMETHING_NEW", Cause("SOMETHING_NEW")},
		{"", ""},
		{"ALLOTTED_TIMEOUT", AllotedTimeout},
	}
	for _, tt := range tests {
		if got := ParseCause(tt.in); got != tt.want {
			t.Errorf("ParseCause(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCausesAreKnownAndDistinct(t *testing.T) {
	all := Causes()
	if len(all) != len(causeCodes) {
		t.Fatalf("Causes() has %d entries, table has %d (two causes share a code?)", len(all), len(causeCodes))
	}
	if len(all) != 82 {
		t.Errorf("FreeSWITCH 1.10 defines 82 causes, table has %d", len(all))
	}
	for _, c := range all {
		if !c.Known() || ParseCause(string(c)) != c || ParseCause(itoa(c.Code())) != c {
			t.Errorf("cause %s does not round-trip (code %d)", c, c.Code())
		}
	}
	if Cause("NOPE").Known() || Cause("NOPE").Code() != -1 {
		t.Error("unknown cause reported as known")
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestParseResult(t *testing.T) {
	tests := []struct {
		body      string
		value     string
		errText   string
		cause     Cause
		usage     bool
		wantError bool
	}{
		{body: "+OK 22222222-2222-2222-2222-222222222222\n", value: "22222222-2222-2222-2222-222222222222"},
		{body: "+OK\n", value: ""},
		{body: "+OK Message sent\n", value: "Message sent"},
		{body: "true", value: "true"},
		{body: "Sent", value: "Sent"},
		{body: "_undef_\n", value: "_undef_"},
		{body: "", value: ""},
		{body: "-ERR NO_ANSWER\n", wantError: true, errText: "-ERR NO_ANSWER", cause: NoAnswer},
		{body: "-ERR USER_BUSY", wantError: true, errText: "-ERR USER_BUSY", cause: UserBusy},
		{body: "-ERR SUBSCRIBER_ABSENT\n", wantError: true, errText: "-ERR SUBSCRIBER_ABSENT", cause: SubscriberAbsent},
		{body: "-ERR NEW_CAUSE_42\n", wantError: true, errText: "-ERR NEW_CAUSE_42", cause: "NEW_CAUSE_42"},
		{body: "-ERR No such channel!\n", wantError: true, errText: "-ERR No such channel!"},
		{body: "-ERR Invalid uuid\n", wantError: true, errText: "-ERR Invalid uuid"},
		{body: "-ERR foo Command not found!\n", wantError: true, errText: "-ERR foo Command not found!"},
		{body: "-ERR\n", wantError: true, errText: "-ERR"},
		{body: "-USAGE: <uuid> [cause]\n", wantError: true, errText: "-USAGE: <uuid> [cause]", usage: true},
	}
	for _, tt := range tests {
		v, err := ParseResult(tt.body)
		if !tt.wantError {
			if err != nil || v != tt.value {
				t.Errorf("ParseResult(%q) = %q, %v; want %q, nil", tt.body, v, err, tt.value)
			}
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("ParseResult(%q) error = %v, want *Error", tt.body, err)
			continue
		}
		if v != "" || fe.Text != tt.errText || fe.Cause != tt.cause || fe.Usage != tt.usage {
			t.Errorf("ParseResult(%q) = %q, %+v; want text %q cause %q usage %v", tt.body, v, *fe, tt.errText, tt.cause, tt.usage)
		}
		if fe.Error() != "freeswitch: "+tt.errText {
			t.Errorf("Error() = %q", fe.Error())
		}
	}
}
