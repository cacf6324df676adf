package freeswitch

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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

// NodeLost is not FreeSWITCH's: bgcall records it for a leg that vanished
// with its node (a restart, or the event socket lost for good), when
// FreeSWITCH never said how the call ended.
const NodeLost Cause = "NODE_LOST"

// Class is what a hangup cause says about a call, in the few words an
// operator acts on. Metrics count attempts by it, the timeline words a
// cause by it, and the default retry policy decides by it. The values are
// metric labels, so they never change.
type Class string

const (
	ClassAnswered    Class = "answered"    // the leg was answered, and ended normally
	ClassNoAnswer    Class = "no_answer"   // it rang (or was offered) and nobody picked up
	ClassBusy        Class = "busy"        // the phone said busy
	ClassRejected    Class = "rejected"    // the callee, or their network, refused this call
	ClassUnreachable Class = "unreachable" // the phone is not registered, absent or out of order, or did not reply
	ClassPermanent   Class = "permanent"   // the number cannot be dialled: calling again cannot help
	ClassNetwork     Class = "network"     // the path failed: congestion, a gateway or node down
	ClassCancelled   Class = "cancelled"   // bgcall, an operator or another leg ended the attempt
	ClassError       Class = "error"       // protocol, media, system, configuration or unknown causes
)

// Classes returns every class, in the order an operator reads them.
func Classes() []Class {
	return []Class{ClassAnswered, ClassNoAnswer, ClassBusy, ClassRejected, ClassUnreachable,
		ClassPermanent, ClassNetwork, ClassCancelled, ClassError}
}

// causeInfo is what bgcall knows of one cause.
type causeInfo struct {
	code  int // FreeSWITCH's number (switch_types.h); -1 for bgcall's own
	class Class
	words string // what it means for a call to %s (the party); "" = the class's words
}

// causes is the one table of hangup causes: every cause FreeSWITCH 1.10
// names (switch_channel.c CAUSE_CHART), its class and, where the class's
// words say too little, its own. The classes follow Q.850's meaning and
// the SIP responses mod_sofia turns into each cause
// (sofia_glue_sip_cause_to_freeswitch): 404 and 604 become
// NO_ROUTE_DESTINATION, 480 NO_USER_RESPONSE, 486 and 600 USER_BUSY, 401,
// 403 and 603 CALL_REJECTED, 488 and 606 INCOMPATIBLE_DESTINATION, 500 and
// 503 NORMAL_TEMPORARY_FAILURE, 502 NETWORK_OUT_OF_ORDER.
var causes = map[Cause]causeInfo{
	None:                        {0, ClassError, ""},
	UnallocatedNumber:           {1, ClassPermanent, "%s's number does not exist"},
	NoRouteTransitNet:           {2, ClassNetwork, "no route to %s"},
	NoRouteDestination:          {3, ClassPermanent, "no route to %s"}, // also FreeSWITCH's dialplan finding no extension
	ChannelUnacceptable:         {6, ClassNetwork, ""},
	CallAwardedDelivered:        {7, ClassError, ""},
	NormalClearing:              {16, ClassAnswered, "%s hung up"},
	UserBusy:                    {17, ClassBusy, "%s was busy"},
	NoUserResponse:              {18, ClassNoAnswer, "%s's phone did not respond"},
	NoAnswer:                    {19, ClassNoAnswer, "%s did not answer"},
	SubscriberAbsent:            {20, ClassUnreachable, "%s is not reachable (no phone registered or present)"},
	CallRejected:                {21, ClassRejected, "%s rejected the call"},
	NumberChanged:               {22, ClassPermanent, "%s's number has changed"},
	RedirectionToNewDestination: {23, ClassPermanent, "%s's number has changed"}, // bgcall does not follow redirects
	ExchangeRoutingError:        {25, ClassNetwork, ""},                          // SIP 482, 483: a routing loop
	DestinationOutOfOrder:       {27, ClassUnreachable, "%s's line is out of order, or FreeSWITCH refused the call (its session limits)"},
	InvalidNumberFormat:         {28, ClassPermanent, "%s's number is not valid"},
	FacilityRejected:            {29, ClassRejected, ""},
	ResponseToStatusEnquiry:     {30, ClassError, ""},
	NormalUnspecified:           {31, ClassError, ""}, // SIP responses mod_sofia has no cause for
	NormalCircuitCongestion:     {34, ClassNetwork, ""},
	NetworkOutOfOrder:           {38, ClassNetwork, ""},
	NormalTemporaryFailure:      {41, ClassNetwork, ""},
	SwitchCongestion:            {42, ClassNetwork, ""},
	AccessInfoDiscarded:         {43, ClassError, ""},
	RequestedChanUnavail:        {44, ClassNetwork, ""},
	PreEmpted:                   {45, ClassNetwork, ""},
	FacilityNotSubscribed:       {50, ClassRejected, ""},
	OutgoingCallBarred:          {52, ClassPermanent, "calls to %s are barred"}, // barred for us: it stays so
	IncomingCallBarred:          {54, ClassRejected, "calls to %s are barred"},  // the callee's side bars calls
	BearerCapabilityNotAuth:     {57, ClassPermanent, ""},                       // we may not use this service
	BearerCapabilityNotAvail:    {58, ClassError, ""},
	ServiceUnavailable:          {63, ClassNetwork, ""},
	BearerCapabilityNotImpl:     {65, ClassError, ""},
	ChanNotImplemented:          {66, ClassError, ""},
	FacilityNotImplemented:      {69, ClassError, ""},
	ServiceNotImplemented:       {79, ClassError, ""},
	InvalidCallReference:        {81, ClassError, ""},
	IncompatibleDestination:     {88, ClassPermanent, "%s's phone accepts none of the offered codecs"}, // SIP 488
	InvalidMsgUnspecified:       {95, ClassError, ""},
	MandatoryIEMissing:          {96, ClassError, ""},
	MessageTypeNonexist:         {97, ClassError, ""},
	WrongMessage:                {98, ClassError, ""},
	IENonexist:                  {99, ClassError, ""},
	InvalidIEContents:           {100, ClassError, ""},
	WrongCallState:              {101, ClassError, ""},
	RecoveryOnTimerExpire:       {102, ClassUnreachable, "%s's side did not reply in time"}, // SIP 408, 504
	MandatoryIELengthError:      {103, ClassError, ""},
	ProtocolError:               {111, ClassError, ""},
	Interworking:                {127, ClassError, ""},
	Success:                     {142, ClassAnswered, "%s hung up"},
	OriginatorCancel:            {487, ClassCancelled, ""},
	Crash:                       {700, ClassError, ""},
	SystemShutdown:              {701, ClassError, ""},
	LoseRace:                    {702, ClassCancelled, ""},
	ManagerRequest:              {703, ClassCancelled, ""}, // uuid_kill without a cause
	BlindTransfer:               {800, ClassAnswered, ""},
	AttendedTransfer:            {801, ClassAnswered, ""},
	AllottedTimeout:             {802, ClassNoAnswer, "%s did not answer"},
	UserChallenge:               {803, ClassError, "the gateway to %s asks for credentials"},
	MediaTimeout:                {804, ClassError, ""},
	PickedOff:                   {805, ClassNoAnswer, "%s's call was picked up on another phone"},
	UserNotRegistered:           {806, ClassUnreachable, "%s's phone is not registered"},
	ProgressTimeout:             {807, ClassUnreachable, "%s's side did not reply in time"},
	InvalidGateway:              {808, ClassError, "the gateway in the dial string for %s does not exist"},
	GatewayDown:                 {809, ClassNetwork, "the gateway to %s is down"},
	InvalidURL:                  {810, ClassError, ""},
	InvalidProfile:              {811, ClassError, "the SIP profile in the dial string for %s does not exist"},
	NoPickup:                    {812, ClassNoAnswer, ""},
	SRTPReadError:               {813, ClassError, ""},
	Bowout:                      {814, ClassError, ""},
	BusyEverywhere:              {815, ClassBusy, "%s was busy"},
	Decline:                     {816, ClassRejected, "%s rejected the call"},
	DoesNotExistAnywhere:        {817, ClassPermanent, "%s's number does not exist"},
	NotAcceptable:               {818, ClassPermanent, "%s's phone accepts none of the offered codecs"},
	Unwanted:                    {819, ClassRejected, "%s rejected the call as unwanted"},
	NoIdentity:                  {820, ClassRejected, ""}, // STIR/SHAKEN: the far end refused our caller identity
	BadIdentityInfo:             {821, ClassRejected, ""},
	UnsupportedCertificate:      {822, ClassRejected, ""},
	InvalidIdentity:             {823, ClassRejected, ""},
	StaleDate:                   {824, ClassRejected, ""},
	RejectAll:                   {825, ClassRejected, ""},

	NodeLost: {-1, ClassNetwork, "the FreeSWITCH node was lost during the call to %s"},
}

// classWords say what a class means for a call to %s, for the causes
// without words of their own.
var classWords = map[Class]string{
	ClassAnswered:    "%s hung up",
	ClassNoAnswer:    "%s did not answer",
	ClassBusy:        "%s was busy",
	ClassRejected:    "the call to %s was refused",
	ClassUnreachable: "%s could not be reached",
	ClassPermanent:   "%s's number cannot be dialled",
	ClassNetwork:     "the network could not carry the call to %s",
	ClassCancelled:   "the call to %s was cancelled",
	ClassError:       "the call to %s failed",
}

// Verdict is what the retry policy does by default after a callee attempt
// ended with a cause. The zero Verdict retries after the backoff interval.
type Verdict struct {
	Fail        bool          // end the session as failed: calling again cannot help
	Interval    time.Duration // retry after this instead of the backoff interval
	GiveUpAfter int           // expire the session after this many attempts ended with the cause
}

// classVerdicts are the default verdicts; a class not listed retries with
// backoff.
var classVerdicts = map[Class]Verdict{
	ClassPermanent: {Fail: true},
	ClassBusy:      {Interval: 2 * time.Minute}, // B is on another call: try again sooner
	ClassRejected:  {GiveUpAfter: 3},            // B keeps refusing: stop bothering B
}

// Class returns the cause's class; an unknown cause, or none, is
// ClassError.
func (c Cause) Class() Class {
	if info, ok := causes[c]; ok {
		return info.class
	}
	return ClassError
}

// Verdict returns what the default retry policy does after a callee attempt
// ended with the cause.
func (c Cause) Verdict() Verdict { return classVerdicts[c.Class()] }

// Describe says what the cause means for a call to party ("A" or "B") that
// ended without being answered, or ended: "B was busy", "B's number does
// not exist". A call that ended with no cause reads as not answered.
func (c Cause) Describe(party string) string {
	if c == "" {
		return party + " did not answer"
	}
	words := causes[c].words
	if words == "" {
		words = classWords[c.Class()]
	}
	return fmt.Sprintf(words, party)
}

var causesByCode = func() map[int]Cause {
	m := make(map[int]Cause, len(causes))
	for c, info := range causes {
		if info.code >= 0 {
			m[info.code] = c
		}
	}
	return m
}()

// Causes returns every cause FreeSWITCH knows, in code order.
func Causes() []Cause {
	out := make([]Cause, 0, len(causesByCode))
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
func (c Cause) Known() bool { return c.Code() >= 0 }

// Code returns FreeSWITCH's numeric code for the cause, or -1 if
// FreeSWITCH does not define it.
func (c Cause) Code() int {
	if info, ok := causes[c]; ok {
		return info.code
	}
	return -1
}

// String returns the cause as FreeSWITCH spells it.
func (c Cause) String() string { return string(c) }
