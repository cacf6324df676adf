package metrics

import (
	"slices"
	"testing"
)

// causeTable lists every hangup cause name in FreeSWITCH 1.10's cause table
// (switch_channel.c) with the class an operator should see it under.
var causeTable = []struct{ cause, class string }{
	{"", ClassAnswered},
	{"NORMAL_CLEARING", ClassAnswered},
	{"SUCCESS", ClassAnswered},
	{"BLIND_TRANSFER", ClassAnswered},
	{"ATTENDED_TRANSFER", ClassAnswered},

	{"NO_ANSWER", ClassNoAnswer},
	{"NO_USER_RESPONSE", ClassNoAnswer},
	{"ALLOTTED_TIMEOUT", ClassNoAnswer},
	{"PICKED_OFF", ClassNoAnswer},

	{"USER_BUSY", ClassBusy},

	{"CALL_REJECTED", ClassRejected},
	{"FACILITY_REJECTED", ClassRejected},
	{"OUTGOING_CALL_BARRED", ClassRejected},
	{"INCOMING_CALL_BARRED", ClassRejected},
	{"BEARERCAPABILITY_NOTAUTH", ClassRejected},
	{"FACILITY_NOT_SUBSCRIBED", ClassRejected},

	{"USER_NOT_REGISTERED", ClassUnreachable},
	{"SUBSCRIBER_ABSENT", ClassUnreachable},
	{"DESTINATION_OUT_OF_ORDER", ClassUnreachable},
	{"NO_ROUTE_TRANSIT_NET", ClassUnreachable},
	{"NO_ROUTE_DESTINATION", ClassUnreachable},
	{"EXCHANGE_ROUTING_ERROR", ClassUnreachable},
	{"NETWORK_OUT_OF_ORDER", ClassUnreachable},
	{"NORMAL_TEMPORARY_FAILURE", ClassUnreachable},
	{"NORMAL_CIRCUIT_CONGESTION", ClassUnreachable},
	{"SWITCH_CONGESTION", ClassUnreachable},
	{"REQUESTED_CHAN_UNAVAIL", ClassUnreachable},
	{"SERVICE_UNAVAILABLE", ClassUnreachable},
	{"RECOVERY_ON_TIMER_EXPIRE", ClassUnreachable},
	{"PROGRESS_TIMEOUT", ClassUnreachable},
	{"PRE_EMPTED", ClassUnreachable},
	{"CHANNEL_UNACCEPTABLE", ClassUnreachable},

	{"UNALLOCATED_NUMBER", ClassInvalidNumber},
	{"INVALID_NUMBER_FORMAT", ClassInvalidNumber},
	{"NUMBER_CHANGED", ClassInvalidNumber},
	{"REDIRECTION_TO_NEW_DESTINATION", ClassInvalidNumber},

	{"ORIGINATOR_CANCEL", ClassCancelled},
	{"MANAGER_REQUEST", ClassCancelled},
	{"LOSE_RACE", ClassCancelled},

	{"NONE", ClassError},
	{"CALL_AWARDED_DELIVERED", ClassError},
	{"RESPONSE_TO_STATUS_ENQUIRY", ClassError},
	{"NORMAL_UNSPECIFIED", ClassError},
	{"ACCESS_INFO_DISCARDED", ClassError},
	{"BEARERCAPABILITY_NOTAVAIL", ClassError},
	{"CHAN_NOT_IMPLEMENTED", ClassError},
	{"FACILITY_NOT_IMPLEMENTED", ClassError},
	{"SERVICE_NOT_IMPLEMENTED", ClassError},
	{"INVALID_CALL_REFERENCE", ClassError},
	{"INCOMPATIBLE_DESTINATION", ClassError},
	{"INVALID_MSG_UNSPECIFIED", ClassError},
	{"MANDATORY_IE_MISSING", ClassError},
	{"MESSAGE_TYPE_NONEXIST", ClassError},
	{"WRONG_MESSAGE", ClassError},
	{"IE_NONEXIST", ClassError},
	{"INVALID_IE_CONTENTS", ClassError},
	{"WRONG_CALL_STATE", ClassError},
	{"MANDATORY_IE_LENGTH_ERROR", ClassError},
	{"PROTOCOL_ERROR", ClassError},
	{"INTERWORKING", ClassError},
	{"CRASH", ClassError},
	{"SYSTEM_SHUTDOWN", ClassError},
	{"USER_CHALLENGE", ClassError},
	{"MEDIA_TIMEOUT", ClassError},
}

func TestCauseClass(t *testing.T) {
	for _, c := range causeTable {
		if got := CauseClass(c.cause); got != c.class {
			t.Errorf("CauseClass(%q) = %q, want %q", c.cause, got, c.class)
		}
	}
}

// TestCauseTableComplete keeps the mapping and the table above in step: a
// cause added to the mapping without a test case, or the other way round,
// fails here.
func TestCauseTableComplete(t *testing.T) {
	tested := make(map[string]bool)
	for _, c := range causeTable {
		if tested[c.cause] {
			t.Errorf("%s listed twice", c.cause)
		}
		tested[c.cause] = true
	}
	for cause := range causeClasses {
		if !tested[cause] {
			t.Errorf("%s is mapped but has no test case", cause)
		}
	}
	for _, c := range causeTable {
		if _, ok := causeClasses[c.cause]; !ok && c.cause != "" {
			t.Errorf("%s is tested but not mapped", c.cause)
		}
	}
	seen := make(map[string]bool)
	for _, c := range causeTable {
		seen[c.class] = true
	}
	for _, class := range Classes {
		if !seen[class] {
			t.Errorf("no cause maps to class %s", class)
		}
	}
}

func TestCauseClassInput(t *testing.T) {
	for in, want := range map[string]string{
		"no_answer":      ClassNoAnswer, // FreeSWITCH compares causes without case
		" USER_BUSY\n":   ClassBusy,
		"FOO_BAR":        ClassError,
		"17":             ClassError, // numeric Q.850 codes are not cause names
		"-ERR NO_ANSWER": ClassError, // callers pass the cause, not the reply line
	} {
		if got := CauseClass(in); got != want {
			t.Errorf("CauseClass(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCauseClassBounded(f *testing.F) {
	for _, c := range causeTable {
		f.Add(c.cause)
	}
	f.Fuzz(func(t *testing.T, cause string) {
		if got := CauseClass(cause); !slices.Contains(Classes, got) {
			t.Fatalf("CauseClass(%q) = %q, outside Classes", cause, got)
		}
	})
}
