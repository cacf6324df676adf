package freeswitch

import (
	"strconv"
	"strings"
)

// Cause is a hangup cause as FreeSWITCH spells it (switch_channel.c CAUSE_CHART).
// Unknown text is kept as is so that a newer FreeSWITCH never loses information.
type Cause string

// Every cause name FreeSWITCH 1.10 knows, with its numeric code in comments.
const (
	None                        Cause = "NONE"                           // 0
	UnallocatedNumber           Cause = "UNALLOCATED_NUMBER"             // 1
	NoRouteTransitNet           Cause = "NO_ROUTE_TRANSIT_NET"           // 2
	NoRouteDestination          Cause = "NO_ROUTE_DESTINATION"           // 3
	ChannelUnacceptable         Cause = "CHANNEL_UNACCEPTABLE"           // 6
	CallAwardedDelivered        Cause = "CALL_AWARDED_DELIVERED"         // 7
	NormalClearing              Cause = "NORMAL_CLEARING"                // 16
	UserBusy                    Cause = "USER_BUSY"                      // 17
	NoUserResponse              Cause = "NO_USER_RESPONSE"               // 18
	NoAnswer                    Cause = "NO_ANSWER"                      // 19
	SubscriberAbsent            Cause = "SUBSCRIBER_ABSENT"              // 20
	CallRejected                Cause = "CALL_REJECTED"                  // 21
	NumberChanged               Cause = "NUMBER_CHANGED"                 // 22
	RedirectionToNewDestination Cause = "REDIRECTION_TO_NEW_DESTINATION" // 23
	ExchangeRoutingError        Cause = "EXCHANGE_ROUTING_ERROR"         // 25
	DestinationOutOfOrder       Cause = "DESTINATION_OUT_OF_ORDER"       // 27
	InvalidNumberFormat         Cause = "INVALID_NUMBER_FORMAT"          // 28
	FacilityRejected            Cause = "FACILITY_REJECTED"              // 29
	ResponseToStatusEnquiry     Cause = "RESPONSE_TO_STATUS_ENQUIRY"     // 30
	NormalUnspecified           Cause = "NORMAL_UNSPECIFIED"             // 31
	NormalCircuitCongestion     Cause = "NORMAL_CIRCUIT_CONGESTION"      // 34
	NetworkOutOfOrder           Cause = "NETWORK_OUT_OF_ORDER"           // 38
	NormalTemporaryFailure      Cause = "NORMAL_TEMPORARY_FAILURE"       // 41
	SwitchCongestion            Cause = "SWITCH_CONGESTION"              // 42
	AccessInfoDiscarded         Cause = "ACCESS_INFO_DISCARDED"          // 43
	RequestedChanUnavail        Cause = "REQUESTED_CHAN_UNAVAIL"         // 44
	PreEmpted                   Cause = "PRE_EMPTED"                     // 45
	FacilityNotSubscribed       Cause = "FACILITY_NOT_SUBSCRIBED"        // 50
	OutgoingCallBarred          Cause = "OUTGOING_CALL_BARRED"           // 52
	IncomingCallBarred          Cause = "INCOMING_CALL_BARRED"           // 54
	BearerCapabilityNotAuth     Cause = "BEARERCAPABILITY_NOTAUTH"       // 57
	BearerCapabilityNotAvail    Cause = "BEARERCAPABILITY_NOTAVAIL"      // 58
	ServiceUnavailable          Cause = "SERVICE_UNAVAILABLE"            // 63
	BearerCapabilityNotImpl     Cause = "BEARERCAPABILITY_NOTIMPL"       // 65
	ChanNotImplemented          Cause = "CHAN_NOT_IMPLEMENTED"           // 66
	FacilityNotImplemented      Cause = "FACILITY_NOT_IMPLEMENTED"       // 69
	ServiceNotImplemented       Cause = "SERVICE_NOT_IMPLEMENTED"        // 79
	InvalidCallReference        Cause = "INVALID_CALL_REFERENCE"         // 81
	IncompatibleDestination     Cause = "INCOMPATIBLE_DESTINATION"       // 88
	InvalidMsgUnspecified       Cause = "INVALID_MSG_UNSPECIFIED"        // 95
	MandatoryIEMissing          Cause = "MANDATORY_IE_MISSING"           // 96
	MessageTypeNonexist         Cause = "MESSAGE_TYPE_NONEXIST"          // 97
	WrongMessage                Cause = "WRONG_MESSAGE"                  // 98
	IENonexist                  Cause = "IE_NONEXIST"                    // 99
	InvalidIEContents           Cause = "INVALID_IE_CONTENTS"            // 100
	WrongCallState              Cause = "WRONG_CALL_STATE"               // 101
	RecoveryOnTimerExpire       Cause = "RECOVERY_ON_TIMER_EXPIRE"       // 102
	MandatoryIELengthError      Cause = "MANDATORY_IE_LENGTH_ERROR"      // 103
	ProtocolError               Cause = "PROTOCOL_ERROR"                 // 111
	Interworking                Cause = "INTERWORKING"                   // 127
	Success                     Cause = "SUCCESS"                        // 142
	OriginatorCancel            Cause = "ORIGINATOR_CANCEL"              // 487
	Crash                       Cause = "CRASH"                          // 700
	SystemShutdown              Cause = "SYSTEM_SHUTDOWN"                // 701
	LoseRace                    Cause = "LOSE_RACE"                      // 702
	ManagerRequest              Cause = "MANAGER_REQUEST"                // 703
	BlindTransfer               Cause = "BLIND_TRANSFER"                 // 800
	AttendedTransfer            Cause = "ATTENDED_TRANSFER"              // 801
	AllottedTimeout             Cause = "ALLOTTED_TIMEOUT"               // 802
	UserChallenge               Cause = "USER_CHALLENGE"                 // 803
	MediaTimeout                Cause = "MEDIA_TIMEOUT"                  // 804
	PickedOff                   Cause = "PICKED_OFF"                     // 805
	UserNotRegistered           Cause = "USER_NOT_REGISTERED"            // 806
	ProgressTimeout             Cause = "PROGRESS_TIMEOUT"               // 807
	InvalidGateway              Cause = "INVALID_GATEWAY"                // 808
	GatewayDown                 Cause = "GATEWAY_DOWN"                   // 809
	InvalidURL                  Cause = "INVALID_URL"                    // 810
	InvalidProfile              Cause = "INVALID_PROFILE"                // 811
	NoPickup                    Cause = "NO_PICKUP"                      // 812
	SRTPReadError               Cause = "SRTP_READ_ERROR"                // 813
	Bowout                      Cause = "BOWOUT"                         // 814
	BusyEverywhere              Cause = "BUSY_EVERYWHERE"                // 815
	Decline                     Cause = "DECLINE"                        // 816
	DoesNotExistAnywhere        Cause = "DOES_NOT_EXIST_ANYWHERE"        // 817
	NotAcceptable               Cause = "NOT_ACCEPTABLE"                 // 818
	Unwanted                    Cause = "UNWANTED"                       // 819
	NoIdentity                  Cause = "NO_IDENTITY"                    // 820
	BadIdentityInfo             Cause = "BAD_IDENTITY_INFO"              // 821
	UnsupportedCertificate      Cause = "UNSUPPORTED_CERTIFICATE"        // 822
	InvalidIdentity             Cause = "INVALID_IDENTITY"               // 823
	StaleDate                   Cause = "STALE_DATE"                     // 824
	RejectAll                   Cause = "REJECT_ALL"                     // 825

	// AllotedTimeout is the spelling the project's first design used; it is the
	// same cause as AllottedTimeout.
	AllotedTimeout = AllottedTimeout
)

// causeCodes maps every known cause to FreeSWITCH's numeric code.
var causeCodes = map[Cause]int{
	None: 0, UnallocatedNumber: 1, NoRouteTransitNet: 2, NoRouteDestination: 3,
	ChannelUnacceptable: 6, CallAwardedDelivered: 7, NormalClearing: 16, UserBusy: 17,
	NoUserResponse: 18, NoAnswer: 19, SubscriberAbsent: 20, CallRejected: 21,
	NumberChanged: 22, RedirectionToNewDestination: 23, ExchangeRoutingError: 25,
	DestinationOutOfOrder: 27, InvalidNumberFormat: 28, FacilityRejected: 29,
	ResponseToStatusEnquiry: 30, NormalUnspecified: 31, NormalCircuitCongestion: 34,
	NetworkOutOfOrder: 38, NormalTemporaryFailure: 41, SwitchCongestion: 42,
	AccessInfoDiscarded: 43, RequestedChanUnavail: 44, PreEmpted: 45,
	FacilityNotSubscribed: 50, OutgoingCallBarred: 52, IncomingCallBarred: 54,
	BearerCapabilityNotAuth: 57, BearerCapabilityNotAvail: 58, ServiceUnavailable: 63,
	BearerCapabilityNotImpl: 65, ChanNotImplemented: 66, FacilityNotImplemented: 69,
	ServiceNotImplemented: 79, InvalidCallReference: 81, IncompatibleDestination: 88,
	InvalidMsgUnspecified: 95, MandatoryIEMissing: 96, MessageTypeNonexist: 97,
	WrongMessage: 98, IENonexist: 99, InvalidIEContents: 100, WrongCallState: 101,
	RecoveryOnTimerExpire: 102, MandatoryIELengthError: 103, ProtocolError: 111,
	Interworking: 127, Success: 142, OriginatorCancel: 487, Crash: 700,
	SystemShutdown: 701, LoseRace: 702, ManagerRequest: 703, BlindTransfer: 800,
	AttendedTransfer: 801, AllottedTimeout: 802, UserChallenge: 803, MediaTimeout: 804,
	PickedOff: 805, UserNotRegistered: 806, ProgressTimeout: 807, InvalidGateway: 808,
	GatewayDown: 809, InvalidURL: 810, InvalidProfile: 811, NoPickup: 812,
	SRTPReadError: 813, Bowout: 814, BusyEverywhere: 815, Decline: 816,
	DoesNotExistAnywhere: 817, NotAcceptable: 818, Unwanted: 819, NoIdentity: 820,
	BadIdentityInfo: 821, UnsupportedCertificate: 822, InvalidIdentity: 823,
	StaleDate: 824, RejectAll: 825,
}

var causesByCode = func() map[int]Cause {
	m := make(map[int]Cause, len(causeCodes))
	for c, n := range causeCodes {
		m[n] = c
	}
	return m
}()

// Causes returns every cause FreeSWITCH knows, in code order.
func Causes() []Cause {
	out := make([]Cause, 0, len(causeCodes))
	for n := 0; n <= 825; n++ {
		if c, ok := causesByCode[n]; ok {
			out = append(out, c)
		}
	}
	return out
}

// ParseCause reads a cause the way FreeSWITCH does: names are matched without
// regard to case, and a decimal code is turned into its name. Surrounding
// blanks are ignored. Unknown text is kept as Cause(text); "" stays "".
func ParseCause(s string) Cause {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if s[0] >= '0' && s[0] <= '9' {
		if n, err := strconv.Atoi(s); err == nil {
			if c, ok := causesByCode[n]; ok {
				return c
			}
		}
		return Cause(s)
	}
	if c := Cause(strings.ToUpper(s)); c.Known() {
		return c
	}
	return Cause(s)
}

// Known reports whether FreeSWITCH defines the cause.
func (c Cause) Known() bool {
	_, ok := causeCodes[c]
	return ok
}

// Code returns FreeSWITCH's numeric code for the cause, or -1 if unknown.
func (c Cause) Code() int {
	if n, ok := causeCodes[c]; ok {
		return n
	}
	return -1
}

// String returns the cause as FreeSWITCH spells it.
func (c Cause) String() string { return string(c) }
