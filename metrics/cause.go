package metrics

import "strings"

// Dial result classes: a bounded summary of FreeSWITCH hangup causes that
// tells an operator why calls do not connect without one series per cause.
const (
	ClassAnswered      = "answered"       // the leg was answered
	ClassNoAnswer      = "no_answer"      // it rang (or was offered) and nobody picked up
	ClassBusy          = "busy"           // the callee's device said busy
	ClassRejected      = "rejected"       // declined by the callee or barred by their network
	ClassUnreachable   = "unreachable"    // not registered, absent, out of order, no route, congested, timed out
	ClassInvalidNumber = "invalid_number" // the number does not exist or is malformed: retrying will not help
	ClassCancelled     = "cancelled"      // bgcall or an operator ended the attempt
	ClassError         = "error"          // protocol, media, system or unknown causes
)

// causeClasses maps every hangup cause FreeSWITCH names (switch_channel.c's
// cause table) to its class. Causes absent here are ClassError.
var causeClasses = map[string]string{
	// Success and normal ends of an answered call.
	"NORMAL_CLEARING":   ClassAnswered,
	"SUCCESS":           ClassAnswered,
	"BLIND_TRANSFER":    ClassAnswered,
	"ATTENDED_TRANSFER": ClassAnswered,

	"NO_ANSWER":        ClassNoAnswer,
	"NO_USER_RESPONSE": ClassNoAnswer, // SIP 480: offered, nobody responded
	"ALLOTTED_TIMEOUT": ClassNoAnswer,
	"PICKED_OFF":       ClassNoAnswer, // someone else picked up B's ringing phone

	"USER_BUSY": ClassBusy,

	"CALL_REJECTED":            ClassRejected,
	"FACILITY_REJECTED":        ClassRejected,
	"OUTGOING_CALL_BARRED":     ClassRejected,
	"INCOMING_CALL_BARRED":     ClassRejected,
	"BEARERCAPABILITY_NOTAUTH": ClassRejected,
	"FACILITY_NOT_SUBSCRIBED":  ClassRejected,

	"USER_NOT_REGISTERED":       ClassUnreachable,
	"SUBSCRIBER_ABSENT":         ClassUnreachable,
	"DESTINATION_OUT_OF_ORDER":  ClassUnreachable,
	"NO_ROUTE_TRANSIT_NET":      ClassUnreachable,
	"NO_ROUTE_DESTINATION":      ClassUnreachable,
	"EXCHANGE_ROUTING_ERROR":    ClassUnreachable,
	"NETWORK_OUT_OF_ORDER":      ClassUnreachable,
	"NORMAL_TEMPORARY_FAILURE":  ClassUnreachable,
	"NORMAL_CIRCUIT_CONGESTION": ClassUnreachable,
	"SWITCH_CONGESTION":         ClassUnreachable,
	"REQUESTED_CHAN_UNAVAIL":    ClassUnreachable,
	"SERVICE_UNAVAILABLE":       ClassUnreachable,
	"RECOVERY_ON_TIMER_EXPIRE":  ClassUnreachable, // SIP 408/504: the far end never replied
	"PROGRESS_TIMEOUT":          ClassUnreachable, // no ringing within the progress timeout
	"PRE_EMPTED":                ClassUnreachable,
	"CHANNEL_UNACCEPTABLE":      ClassUnreachable,

	"UNALLOCATED_NUMBER":             ClassInvalidNumber,
	"INVALID_NUMBER_FORMAT":          ClassInvalidNumber,
	"NUMBER_CHANGED":                 ClassInvalidNumber,
	"REDIRECTION_TO_NEW_DESTINATION": ClassInvalidNumber,

	"ORIGINATOR_CANCEL": ClassCancelled,
	"MANAGER_REQUEST":   ClassCancelled, // uuid_kill without a cause
	"LOSE_RACE":         ClassCancelled,

	"NONE":                       ClassError,
	"CALL_AWARDED_DELIVERED":     ClassError,
	"RESPONSE_TO_STATUS_ENQUIRY": ClassError,
	"NORMAL_UNSPECIFIED":         ClassError,
	"ACCESS_INFO_DISCARDED":      ClassError,
	"BEARERCAPABILITY_NOTAVAIL":  ClassError,
	"CHAN_NOT_IMPLEMENTED":       ClassError,
	"FACILITY_NOT_IMPLEMENTED":   ClassError,
	"SERVICE_NOT_IMPLEMENTED":    ClassError,
	"INVALID_CALL_REFERENCE":     ClassError,
	"INCOMPATIBLE_DESTINATION":   ClassError, // SIP 488: no common codec
	"INVALID_MSG_UNSPECIFIED":    ClassError,
	"MANDATORY_IE_MISSING":       ClassError,
	"MESSAGE_TYPE_NONEXIST":      ClassError,
	"WRONG_MESSAGE":              ClassError,
	"IE_NONEXIST":                ClassError,
	"INVALID_IE_CONTENTS":        ClassError,
	"WRONG_CALL_STATE":           ClassError,
	"MANDATORY_IE_LENGTH_ERROR":  ClassError,
	"PROTOCOL_ERROR":             ClassError,
	"INTERWORKING":               ClassError,
	"CRASH":                      ClassError,
	"SYSTEM_SHUTDOWN":            ClassError,
	"USER_CHALLENGE":             ClassError, // the gateway wants credentials: a configuration problem
	"MEDIA_TIMEOUT":              ClassError,
}

// CauseClass maps a FreeSWITCH hangup cause to its dial result class, one
// of Classes. An empty cause means the attempt ended without a failure, that
// is, it was answered. Case is ignored, as FreeSWITCH does; unknown causes
// are ClassError, so the label stays bounded whatever FreeSWITCH sends.
func CauseClass(cause string) string {
	cause = strings.ToUpper(strings.TrimSpace(cause))
	if cause == "" {
		return ClassAnswered
	}
	if class, ok := causeClasses[cause]; ok {
		return class
	}
	return ClassError
}

func isClass(class string) bool {
	for _, c := range Classes {
		if c == class {
			return true
		}
	}
	return false
}
