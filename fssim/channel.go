package fssim

import (
	"strconv"
	"strings"
	"time"
)

// Channel states, with the numbers switch_channel_state_t gives them.
const (
	csNew          = "CS_NEW"
	csInit         = "CS_INIT"
	csRouting      = "CS_ROUTING"
	csSoftExecute  = "CS_SOFT_EXECUTE"
	csExecute      = "CS_EXECUTE"
	csExchangeMed  = "CS_EXCHANGE_MEDIA"
	csConsumeMedia = "CS_CONSUME_MEDIA"
	csHibernate    = "CS_HIBERNATE"
	csReset        = "CS_RESET"
	csHangup       = "CS_HANGUP"
	csReporting    = "CS_REPORTING"
	csDestroy      = "CS_DESTROY"
	csNone         = "CS_NONE"
)

var stateNumber = map[string]int{
	csNew: 0, csInit: 1, csRouting: 2, csSoftExecute: 3, csExecute: 4, csExchangeMed: 5,
	"CS_PARK": 6, csConsumeMedia: 7, csHibernate: 8, csReset: 9, csHangup: 10,
	csReporting: 11, csDestroy: 12, csNone: 13,
}

// Call states (switch_channel_callstate_t) and their numbers.
var callStateNumber = map[string]int{
	"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
	"RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8,
}

// channel is one leg on the node. All fields are guarded by Node.mu.
type channel struct {
	uuid      string
	name      string // Channel-Name
	number    string // subscriber number the dial string reached
	endpoint  string // dial string as sent
	source    string // Caller-Source
	context   string
	dialplan  string
	cidName   string
	cidNum    string
	callee    string // Caller-Callee-ID-Number
	callUUID  string // Channel-Call-UUID
	sessionID int

	running     string // Channel-State (running state)
	stateNum    int    // Channel-State-Number (desired state)
	callState   string
	answerState string
	hitDialplan bool
	cause       string // hangup cause once hanging up

	vars []header // named "variable_<name>", ready to append to events

	created, progressAt, mediaAt, answeredAt, bridgedAt, hungupAt time.Time
	// The times above as every event prints them, formatted once.
	createdUS, progressUS, mediaUS, answeredUS, bridgedUS, hungupUS usecText

	avmdGen   int      // bumped by each avmd start and stop: a beep fires for the latest start only
	partner   *channel // bridged leg
	unbridged bool     // the bridge with partner is being torn down
	other     *channel // last bridge partner: its profile stays in Other-Leg-* headers
	flipped   bool     // caller id flipped once the originate succeeded
	transfer  string   // Caller-Transfer-Source after uuid_bridge
	bridgeA   bool     // this leg is Bridge-A (the one CHANNEL_BRIDGE is fired on)
	parked    bool
	app       string // application running (park, playback, ...), "" if none
	appData   string
	appUUID   string
	play      *playback
	queue     []string // uuid_broadcast paths waiting behind the current one

	behavior Behavior
	orig     *originateJob // until the originate returns
	timers   []*timer
	gone     bool // hangup started: no longer counts as existing
	record   *OriginateRecord

	// Calls placed by Node.Call: the caller's inbound leg and its dialplan.
	inbound bool
	dialing *channel   // the bridge's B leg while it is being originated
	caller  *channel   // on a B leg: the inbound leg that dialled it
	sock    *conn      // the outbound event socket controlling this leg
	apps    []appCall  // sendmsg executes waiting for the running one
	appBusy bool       // an application started by sendmsg is running
	read    *digitRead // play_and_get_digits collecting digits
	keys    string     // digits the caller presses at the next read
	keyWait time.Duration
}

// direction is Call-Direction: legs placed by Node.Call are inbound.
func (c *channel) direction() string {
	if c.inbound {
		return "inbound"
	}
	return "outbound"
}

// varsPerChannel is room for the variables a leg collects over its life
// (about fifty through originate, bridge and hangup), so that the list is
// allocated once.
const varsPerChannel = 64

const varPrefix = "variable_"

// varHeaderNames are the header names of the variables the simulator sets
// on every leg and of the usual originate variables, built once: a leg
// collects some fifty variables and each would otherwise build its own.
var varHeaderNames = func() map[string]string {
	m := make(map[string]string)
	for _, name := range strings.Fields(`direction is_outbound session_id read_codec read_rate write_codec
	write_rate channel_name uuid call_uuid originate_early_media originate_endpoint dialed_user
	current_application current_application_data endpoint_disposition pre_transfer_caller_id_number
	channel_cid_flipped transfer_history transfer_source bridge_channel bridge_uuid signal_bond
	last_bridge_to last_bridge_hangup_cause hangup_cause hangup_cause_q850 digits_dialed start_stamp
	answer_stamp end_stamp start_epoch start_uepoch answer_epoch answer_uepoch end_epoch end_uepoch
	caller_id duration billsec mduration billmsec uduration billusec sip_term_status sip_term_cause
	socket_host socket_resume continue_on_fail hangup_after_bridge park_after_bridge originate_disposition
	originate_failed_cause DIALSTATUS sip_from_user sip_to_user sip_req_user origination_uuid
	origination_caller_id_number origination_caller_id_name originate_timeout leg_timeout
	ignore_early_media park_timeout`) {
		m[name] = varPrefix + name
	}
	return m
}()

// varIndex finds a variable by a short scan: a leg has a few dozen, and a
// scan allocates nothing where an index map would grow with every leg.
func (c *channel) varIndex(name string) int {
	for i, v := range c.vars {
		if len(v.name) == len(varPrefix)+len(name) && v.name[len(varPrefix):] == name {
			return i
		}
	}
	return -1
}

func (c *channel) setVar(name, value string) {
	i := c.varIndex(name)
	switch {
	case value == "":
		if i >= 0 {
			c.vars = append(c.vars[:i], c.vars[i+1:]...)
		}
	case i >= 0:
		c.vars[i].value = value
	default:
		if c.vars == nil {
			c.vars = make([]header, 0, varsPerChannel)
		}
		hname, ok := varHeaderNames[name]
		if !ok {
			hname = varPrefix + name
		}
		c.vars = append(c.vars, header{hname, value})
	}
}

func (c *channel) getVar(name string) (string, bool) {
	if i := c.varIndex(name); i >= 0 {
		return c.vars[i].value, true
	}
	return "", false
}

func (c *channel) setState(running string) {
	c.running = running
	c.stateNum = stateNumber[running]
}

func usec(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// usecText is usec(t) of the last time it was asked for: a channel's times
// appear in every one of its events (and its partner's) but rarely change.
type usecText struct {
	t time.Time
	s string
}

func (u *usecText) of(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	if u.s == "" || !t.Equal(u.t) {
		u.t, u.s = t, strconv.FormatInt(t.UnixMicro(), 10)
	}
	return u.s
}

// basicData appends switch_channel_event_set_basic_data's headers.
func (c *channel) basicData(e *event) {
	e.add("Channel-State", c.running)
	e.add("Channel-Call-State", c.callState)
	e.add("Channel-State-Number", strconv.Itoa(c.stateNum))
	e.add("Channel-Name", c.name)
	e.add("Unique-ID", c.uuid)
	e.add("Call-Direction", c.direction())
	e.add("Presence-Call-Direction", c.direction())
	e.add("Channel-HIT-Dialplan", strconv.FormatBool(c.hitDialplan))
	e.add("Channel-Call-UUID", c.callUUID)
	e.add("Answer-State", c.answerState)
	if c.cause != "" {
		e.add("Hangup-Cause", c.cause)
	}
	e.add("Channel-Read-Codec-Name", "PCMU")
	e.add("Channel-Read-Codec-Rate", "8000")
	e.add("Channel-Read-Codec-Bit-Rate", "64000")
	e.add("Channel-Write-Codec-Name", "PCMU")
	e.add("Channel-Write-Codec-Rate", "8000")
	e.add("Channel-Write-Codec-Bit-Rate", "64000")
	c.profile(e, true)
	if p := c.other; p != nil {
		if c.bridgeA {
			e.add("Other-Type", "originatee")
		} else {
			e.add("Other-Type", "originator")
		}
		p.profile(e, false)
	}
}

// profile appends a caller profile (switch_caller_profile_event_set_data);
// empty fields are left out, as FreeSWITCH does. Once an originate has
// succeeded FreeSWITCH flips the caller id (CALL_UPDATE), so the caller-id
// fields then show the far end and the callee fields the original caller.
func (c *channel) profile(e *event, caller bool) {
	names := &otherLegNames
	if caller {
		names = &callerNames
	}
	c.profileWith(e, names, caller)
}

// profileWith appends the caller profile under the given header names; the
// connect reply of an outbound socket uses the "Channel-" prefix.
func (c *channel) profileWith(e *event, names *[pfCount]string, caller bool) {
	add := func(k profileField, v string) {
		if v != "" {
			e.add(names[k], v)
		}
	}
	logical := c.direction()
	if c.transfer != "" {
		logical = "inbound"
	}
	add(pfDirection, c.direction())
	add(pfLogicalDirection, logical)
	add(pfDialplan, c.dialplan)
	if c.flipped {
		add(pfCallerIDName, "Outbound Call")
		add(pfCallerIDNumber, c.callee)
		add(pfOrigCallerIDNumber, c.cidNum)
		add(pfCalleeIDName, c.cidName)
		add(pfCalleeIDNumber, c.cidNum)
	} else {
		add(pfCallerIDName, c.cidName)
		add(pfCallerIDNumber, c.cidNum)
		add(pfOrigCallerIDNumber, c.cidNum)
		if !c.inbound {
			add(pfCalleeIDName, "Outbound Call")
		}
		add(pfCalleeIDNumber, c.callee)
	}
	add(pfANI, c.cidNum)
	add(pfDestinationNumber, c.number)
	add(pfUniqueID, c.uuid)
	add(pfSource, c.source)
	if caller {
		add(pfTransferSource, c.transfer)
	}
	add(pfContext, c.context)
	add(pfChannelName, c.name)
	if caller {
		if c.transfer != "" {
			add(pfProfileIndex, "2")
		} else {
			add(pfProfileIndex, "1")
		}
	}
	created := c.createdUS.of(c.created)
	add(pfProfileCreatedTime, created)
	add(pfChannelCreatedTime, created)
	add(pfChannelAnsweredTime, c.answeredUS.of(c.answeredAt))
	add(pfChannelProgressTime, c.progressUS.of(c.progressAt))
	add(pfChannelProgressMediaTime, c.mediaUS.of(c.mediaAt))
	add(pfChannelHangupTime, c.hungupUS.of(c.hungupAt))
	add(pfChannelTransferTime, "0")
	add(pfChannelResurrectTime, "0")
	add(pfChannelBridgedTime, c.bridgedUS.of(c.bridgedAt))
	add(pfChannelLastHold, "0")
	add(pfChannelHoldAccum, "0")
	add(pfScreenBit, "true")
	add(pfPrivacyHideName, "false")
	add(pfPrivacyHideNumber, "false")
}

// profileField indexes the caller-profile header names, built once per
// prefix instead of once per event.
type profileField int

const (
	pfDirection profileField = iota
	pfLogicalDirection
	pfDialplan
	pfCallerIDName
	pfCallerIDNumber
	pfOrigCallerIDNumber
	pfCalleeIDName
	pfCalleeIDNumber
	pfANI
	pfDestinationNumber
	pfUniqueID
	pfSource
	pfTransferSource
	pfContext
	pfChannelName
	pfProfileIndex
	pfProfileCreatedTime
	pfChannelCreatedTime
	pfChannelAnsweredTime
	pfChannelProgressTime
	pfChannelProgressMediaTime
	pfChannelHangupTime
	pfChannelTransferTime
	pfChannelResurrectTime
	pfChannelBridgedTime
	pfChannelLastHold
	pfChannelHoldAccum
	pfScreenBit
	pfPrivacyHideName
	pfPrivacyHideNumber
	pfCount
)

var profileFieldNames = [pfCount]string{
	"Direction", "Logical-Direction", "Dialplan", "Caller-ID-Name", "Caller-ID-Number",
	"Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number", "ANI", "Destination-Number",
	"Unique-ID", "Source", "Transfer-Source", "Context", "Channel-Name", "Profile-Index",
	"Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time", "Channel-Progress-Time",
	"Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time",
	"Channel-Resurrect-Time", "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum",
	"Screen-Bit", "Privacy-Hide-Name", "Privacy-Hide-Number",
}

var callerNames, otherLegNames, channelNames = prefixed("Caller-"), prefixed("Other-Leg-"), prefixed("Channel-")

func prefixed(p string) (out [pfCount]string) {
	for i, n := range profileFieldNames {
		out[i] = p + n
	}
	return out
}

// q850 maps the hangup causes the simulator produces to their Q.850 codes.
var q850 = map[string]int{
	"UNALLOCATED_NUMBER": 1, "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18,
	"NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21, "DESTINATION_OUT_OF_ORDER": 27,
	"INVALID_NUMBER_FORMAT": 28, "NORMAL_UNSPECIFIED": 31, "NETWORK_OUT_OF_ORDER": 38,
	"NORMAL_TEMPORARY_FAILURE": 41, "RECOVERY_ON_TIMER_EXPIRE": 102, "ORIGINATOR_CANCEL": 487,
	"MANAGER_REQUEST": 503, "USER_NOT_REGISTERED": 606, "ALLOTTED_TIMEOUT": 602, "LOSE_RACE": 502,
}

// knownCause reports whether s names a hangup cause FreeSWITCH knows.
func knownCause(s string) bool {
	_, ok := q850[s]
	if ok {
		return true
	}
	switch s {
	case "NO_ROUTE_TRANSIT_NET", "NO_ROUTE_DESTINATION", "CHANNEL_UNACCEPTABLE", "CALL_AWARDED_DELIVERED",
		"NUMBER_CHANGED", "REDIRECTION_TO_NEW_DESTINATION", "EXCHANGE_ROUTING_ERROR", "FACILITY_REJECTED",
		"RESPONSE_TO_STATUS_ENQUIRY", "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION", "ACCESS_INFO_DISCARDED",
		"REQUESTED_CHAN_UNAVAIL", "PRE_EMPTED", "FACILITY_NOT_SUBSCRIBED", "OUTGOING_CALL_BARRED",
		"INCOMING_CALL_BARRED", "BEARERCAPABILITY_NOTAUTH", "BEARERCAPABILITY_NOTAVAIL", "SERVICE_UNAVAILABLE",
		"BEARERCAPABILITY_NOTIMPL", "CHAN_NOT_IMPLEMENTED", "FACILITY_NOT_IMPLEMENTED", "SERVICE_NOT_IMPLEMENTED",
		"INVALID_CALL_REFERENCE", "INCOMPATIBLE_DESTINATION", "INVALID_MSG_UNSPECIFIED", "MANDATORY_IE_MISSING",
		"MESSAGE_TYPE_NONEXIST", "WRONG_MESSAGE", "IE_NONEXIST", "INVALID_IE_CONTENTS", "WRONG_CALL_STATE",
		"MANDATORY_IE_LENGTH_ERROR", "PROTOCOL_ERROR", "INTERWORKING", "SUCCESS", "CRASH", "SYSTEM_SHUTDOWN",
		"MEDIA_TIMEOUT", "PICKED_OFF", "PROGRESS_TIMEOUT", "GATEWAY_DOWN", "INVALID_PROFILE", "NONE",
		"BLIND_TRANSFER", "ATTENDED_TRANSFER", "INVALID_GATEWAY", "INVALID_URL", "MANDATORY_IE_MISSING_",
		"UNKNOWN", "USER_CHALLENGE", "DECLINE", "BUSY_EVERYWHERE", "DOES_NOT_EXIST_ANYWHERE",
		"NOT_ACCEPTABLE", "UNWANTED", "NO_IDENTITY", "BAD_IDENTITY_INFO", "UNSUPPORTED_CERTIFICATE",
		"INVALID_IDENTITY", "STALE_DATE":
		return true
	}
	return false
}
