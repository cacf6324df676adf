package freeswitch

import (
	"errors"
	"testing"
	"time"
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
	if len(all) != 82 {
		t.Errorf("FreeSWITCH 1.10 defines 82 causes, table has %d (two causes share a code?)", len(all))
	}
	for _, c := range all {
		if !c.Known() || ParseCause(string(c)) != c || ParseCause(itoa(c.Code())) != c {
			t.Errorf("cause %s does not round-trip (code %d)", c, c.Code())
		}
	}
	for _, c := range []Cause{"NOPE", NodeLost, ""} {
		if c.Known() || c.Code() != -1 {
			t.Errorf("%q reported as a FreeSWITCH cause", c)
		}
	}
}

// TestCauseTable is the cause vocabulary: what each cause is taken to mean
// (its class), what the retry policy does after it by default, and the
// words an operator reads. Every cause FreeSWITCH names is listed.
func TestCauseTable(t *testing.T) {
	const (
		retry     = "retry"
		fail      = "fail"
		soon      = "retry in 2m"
		giveUp    = "retry, give up after 3"
		noWords   = ""
		answered  = ClassAnswered
		noAnswer  = ClassNoAnswer
		busy      = ClassBusy
		rejected  = ClassRejected
		unreach   = ClassUnreachable
		permanent = ClassPermanent
		network   = ClassNetwork
		cancelled = ClassCancelled
		errClass  = ClassError
	)
	tests := []struct {
		cause   Cause
		class   Class
		verdict string
		words   string // for party B; noWords: the class's words
	}{
		{None, errClass, retry, noWords},
		{UnallocatedNumber, permanent, fail, "B's number does not exist"},
		{NoRouteTransitNet, network, retry, "no route to B"},
		{NoRouteDestination, permanent, fail, "no route to B"},
		{ChannelUnacceptable, network, retry, noWords},
		{CallAwardedDelivered, errClass, retry, noWords},
		{NormalClearing, answered, retry, "B hung up"},
		{UserBusy, busy, soon, "B was busy"},
		{NoUserResponse, noAnswer, retry, "B's phone did not respond"},
		{NoAnswer, noAnswer, retry, "B did not answer"},
		{SubscriberAbsent, unreach, retry, "B is not reachable (no phone registered or present)"},
		{CallRejected, rejected, giveUp, "B rejected the call"},
		{NumberChanged, permanent, fail, "B's number has changed"},
		{RedirectionToNewDestination, permanent, fail, "B's number has changed"},
		{ExchangeRoutingError, network, retry, noWords},
		{DestinationOutOfOrder, unreach, retry, "B's line is out of order, or FreeSWITCH refused the call (its session limits)"},
		{InvalidNumberFormat, permanent, fail, "B's number is not valid"},
		{FacilityRejected, rejected, giveUp, noWords},
		{ResponseToStatusEnquiry, errClass, retry, noWords},
		{NormalUnspecified, errClass, retry, noWords},
		{NormalCircuitCongestion, network, retry, noWords},
		{NetworkOutOfOrder, network, retry, noWords},
		{NormalTemporaryFailure, network, retry, noWords},
		{SwitchCongestion, network, retry, noWords},
		{AccessInfoDiscarded, errClass, retry, noWords},
		{RequestedChanUnavail, network, retry, noWords},
		{PreEmpted, network, retry, noWords},
		{FacilityNotSubscribed, rejected, giveUp, noWords},
		{OutgoingCallBarred, permanent, fail, "calls to B are barred"},
		{IncomingCallBarred, rejected, giveUp, "calls to B are barred"},
		{BearerCapabilityNotAuth, permanent, fail, noWords},
		{BearerCapabilityNotAvail, errClass, retry, noWords},
		{ServiceUnavailable, network, retry, noWords},
		{BearerCapabilityNotImpl, errClass, retry, noWords},
		{ChanNotImplemented, errClass, retry, noWords},
		{FacilityNotImplemented, errClass, retry, noWords},
		{ServiceNotImplemented, errClass, retry, noWords},
		{InvalidCallReference, errClass, retry, noWords},
		{IncompatibleDestination, permanent, fail, "B's phone accepts none of the offered codecs"},
		{InvalidMsgUnspecified, errClass, retry, noWords},
		{MandatoryIEMissing, errClass, retry, noWords},
		{MessageTypeNonexist, errClass, retry, noWords},
		{WrongMessage, errClass, retry, noWords},
		{IENonexist, errClass, retry, noWords},
		{InvalidIEContents, errClass, retry, noWords},
		{WrongCallState, errClass, retry, noWords},
		{RecoveryOnTimerExpire, unreach, retry, "B's side did not reply in time"},
		{MandatoryIELengthError, errClass, retry, noWords},
		{ProtocolError, errClass, retry, noWords},
		{Interworking, errClass, retry, noWords},
		{Success, answered, retry, "B hung up"},
		{OriginatorCancel, cancelled, retry, noWords},
		{Crash, errClass, retry, noWords},
		{SystemShutdown, errClass, retry, noWords},
		{LoseRace, cancelled, retry, noWords},
		{ManagerRequest, cancelled, retry, noWords},
		{BlindTransfer, answered, retry, noWords},
		{AttendedTransfer, answered, retry, noWords},
		{AllottedTimeout, noAnswer, retry, "B did not answer"},
		{UserChallenge, errClass, retry, "the gateway to B asks for credentials"},
		{MediaTimeout, errClass, retry, noWords},
		{PickedOff, noAnswer, retry, "B's call was picked up on another phone"},
		{UserNotRegistered, unreach, retry, "B's phone is not registered"},
		{ProgressTimeout, unreach, retry, "B's side did not reply in time"},
		{InvalidGateway, errClass, retry, "the gateway in the dial string for B does not exist"},
		{GatewayDown, network, retry, "the gateway to B is down"},
		{InvalidURL, errClass, retry, noWords},
		{InvalidProfile, errClass, retry, "the SIP profile in the dial string for B does not exist"},
		{NoPickup, noAnswer, retry, noWords},
		{SRTPReadError, errClass, retry, noWords},
		{Bowout, errClass, retry, noWords},
		{BusyEverywhere, busy, soon, "B was busy"},
		{Decline, rejected, giveUp, "B rejected the call"},
		{DoesNotExistAnywhere, permanent, fail, "B's number does not exist"},
		{NotAcceptable, permanent, fail, "B's phone accepts none of the offered codecs"},
		{Unwanted, rejected, giveUp, "B rejected the call as unwanted"},
		{NoIdentity, rejected, giveUp, noWords},
		{BadIdentityInfo, rejected, giveUp, noWords},
		{UnsupportedCertificate, rejected, giveUp, noWords},
		{InvalidIdentity, rejected, giveUp, noWords},
		{StaleDate, rejected, giveUp, noWords},
		{RejectAll, rejected, giveUp, noWords},

		{NodeLost, network, retry, "the FreeSWITCH node was lost during the call to B"},
		{"SOMETHING_NEW", errClass, retry, noWords},
	}
	classWords := map[Class]string{
		answered: "B hung up", noAnswer: "B did not answer", busy: "B was busy",
		rejected: "the call to B was refused", unreach: "B could not be reached",
		permanent: "B's number cannot be dialled", network: "the network could not carry the call to B",
		cancelled: "the call to B was cancelled", errClass: "the call to B failed",
	}
	verdicts := map[string]Verdict{
		retry: {}, fail: {Fail: true}, soon: {Interval: 2 * time.Minute}, giveUp: {GiveUpAfter: 3},
	}
	listed := map[Cause]bool{}
	seen := map[Class]bool{}
	for _, tt := range tests {
		if listed[tt.cause] {
			t.Errorf("%s listed twice", tt.cause)
		}
		listed[tt.cause], seen[tt.class] = true, true
		if got := tt.cause.Class(); got != tt.class {
			t.Errorf("%s: class %s, want %s", tt.cause, got, tt.class)
		}
		if got := tt.cause.Verdict(); got != verdicts[tt.verdict] {
			t.Errorf("%s: verdict %+v, want %s", tt.cause, got, tt.verdict)
		}
		want := tt.words
		if want == noWords {
			want = classWords[tt.class]
		}
		if got := tt.cause.Describe("B"); got != want {
			t.Errorf("%s: described as %q, want %q", tt.cause, got, want)
		}
	}
	for _, c := range Causes() {
		if !listed[c] {
			t.Errorf("%s has no row", c)
		}
	}
	for _, class := range Classes() {
		if !seen[class] {
			t.Errorf("no cause is of class %s", class)
		}
	}
	if got := Cause("").Describe("A"); got != "A did not answer" {
		t.Errorf("no cause described as %q", got)
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
