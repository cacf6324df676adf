package fssim

import (
	"regexp"
	"strings"
)

// deliver queues an event if this connection wants it. Called with Node.mu
// held.
func (c *conn) deliver(e *event) {
	if !c.listening || !c.wants(e) {
		return
	}
	var f []byte
	var shared *sharedFrame
	switch c.format {
	case "json":
		f = e.jsonFrame()
	case "xml":
		f = e.xmlFrame()
	default:
		f, shared = e.plainFrame(), e.plainBuf
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.final {
		return
	}
	if c.queued >= c.n.opts.EventQueue {
		c.lost++
		if c.lost > maxLostEvents {
			// The writer closes the socket and drops the connection.
			c.abrupt = true
			c.final = true
			c.cond.Signal()
		}
		return
	}
	c.queued++
	if shared != nil {
		shared.hold()
	}
	if c.apiHold || c.stalled {
		c.held = append(c.held, outFrame{f, true, shared})
		return
	}
	c.queue = append(c.queue, outFrame{f, true, shared})
	c.cond.Signal()
}

// wants applies the subscription and then the filters, following
// mod_event_socket's event_handler.
func (c *conn) wants(e *event) bool {
	send := false
	switch {
	case c.all:
		send = true
	case c.names[e.name]:
		send = e.name != "CUSTOM" || e.subclass == "" || c.subclasses[e.subclass]
	case e.name == "CUSTOM" && c.subclasses[e.subclass]:
		send = true
	}
	if send && c.mine != "" {
		// myevents: only the controlled channel's own events. A channel
		// event knows its Unique-ID without a search through its headers,
		// which every outbound connection would repeat for every event.
		v, ok := e.uuid, e.uuid != ""
		if !ok {
			v, ok = e.get("Unique-ID")
		}
		if !ok || v != c.mine {
			return false
		}
	}
	if !send || len(c.filters) == 0 {
		return send
	}
	send = false
	for _, f := range c.filters {
		hval, ok := e.get(f.name)
		if !ok {
			continue
		}
		comp := f.value
		pos := true
		for comp != "" {
			if comp[0] == '+' {
				pos = true
			} else if comp[0] == '-' {
				pos = false
			} else if comp[0] != ' ' {
				break
			}
			comp = comp[1:]
		}
		if send && pos {
			continue
		}
		var match bool
		if strings.HasPrefix(f.value, "/") {
			pat := strings.TrimSuffix(strings.TrimPrefix(comp, "/"), "/")
			re, err := regexp.Compile(pat)
			match = err == nil && re.MatchString(hval)
		} else {
			match = strings.EqualFold(hval, comp)
		}
		if match {
			if !pos {
				return false
			}
			send = true
		}
	}
	return send
}

// subscribe answers "event[...] [format] NAME...": rest is what follows
// "event". The words start after its first space, one per space; a format
// word must come first and is taken even when no event name follows;
// unknown names are ignored; the words after CUSTOM are subclasses.
func (c *conn) subscribe(rest string) string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	keys, custom := 0, false
	if _, words, ok := strings.Cut(rest, " "); ok {
		for i, w := range strings.Split(words, " ") {
			if i == 0 {
				if f := strings.ToLower(w); f == "plain" || f == "json" || f == "xml" {
					c.format = f
					continue
				}
			}
			if custom {
				c.subclasses[w] = true
				continue
			}
			name, ok := eventName(w)
			if !ok {
				continue
			}
			keys++
			switch name {
			case "ALL":
				c.all = true
			case "CUSTOM":
				custom = true
				c.names[name] = true
			default:
				c.names[name] = true
			}
		}
	}
	c.n.events.stale = true
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.listening = true
	return "+OK event listener enabled " + c.format
}

// nix answers "nixevent NAME...": rest is what follows "nixevent". Nixing
// one event out of ALL keeps every other.
func (c *conn) nix(rest string) string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	c.n.events.stale = true
	keys, custom := 0, false
	if _, words, ok := strings.Cut(rest, " "); ok {
		for _, w := range strings.Split(words, " ") {
			if custom {
				delete(c.subclasses, w)
				continue
			}
			name, ok := eventName(w)
			if !ok {
				continue
			}
			keys++
			switch name {
			case "CUSTOM":
				custom = true
			case "ALL":
				c.all = false
				clear(c.names)
			default:
				if c.all {
					c.all = false
					for ev := range eventNames {
						c.names[ev] = ev != "ALL"
					}
				}
				delete(c.names, name)
			}
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.listening = true
	return "+OK events nixed"
}

func (c *conn) noevents() string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if !c.listening {
		return "-ERR not listening for events"
	}
	c.n.events.stale = true
	c.listening = false
	c.all = false
	clear(c.names)
	clear(c.subclasses)
	return "+OK no longer listening for events"
}

// filter answers "filter [add] NAME VALUE" and "filter delete NAME [VALUE]"
// or "filter delete all"; args is what follows "filter ". The name is the
// first word after any spaces, the value all the rest of the line. An empty
// value (a trailing space) removes the filters on that name instead, and
// "add" without a value adds nothing: both are still acknowledged, as
// FreeSWITCH does.
func (c *conn) filter(args string) string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	name, value, hasValue := strings.Cut(strings.TrimLeft(stripCR(args), " "), " ")
	if strings.EqualFold(name, "delete") && hasValue {
		name, value, _ = strings.Cut(value, " ")
		if strings.EqualFold(name, "all") {
			c.filters = nil
		} else {
			c.dropFilters(name, value)
		}
		return "+OK filter deleted. [" + name + "][" + value + "]"
	}
	if !hasValue {
		return "-ERR invalid syntax"
	}
	if strings.EqualFold(name, "add") {
		if name, value, hasValue = strings.Cut(value, " "); !hasValue {
			return "+OK filter added. [" + name + "]=[(null)]"
		}
	}
	if value == "" {
		c.dropFilters(name, "")
	} else {
		c.filters = append(c.filters, header{name, value})
	}
	return "+OK filter added. [" + name + "]=[" + value + "]"
}

// dropFilters removes the filters on name with value, or all of them for
// an empty value.
func (c *conn) dropFilters(name, value string) {
	kept := c.filters[:0]
	for _, f := range c.filters {
		if strings.EqualFold(f.name, name) && (value == "" || f.value == value) {
			continue
		}
		kept = append(kept, f)
	}
	c.filters = kept
}

// eventNames are the event names switch_name_event knows.
var eventNames = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE
	CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE
	CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE
	CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK
	CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP
	SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE
	PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC
	BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE
	DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE
	SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL COMMAND SESSION_HEARTBEAT
	CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE
	CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE FAILURE
	SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ
	CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED ALL`) {
		eventNames[n] = true
	}
}

// eventName is switch_name_event: a name in any case, or any 13 bytes (as
// in SWITCH_EVENT_) followed by one.
func eventName(w string) (string, bool) {
	if name := strings.ToUpper(w); eventNames[name] {
		return name, true
	}
	if len(w) > 13 {
		if name := strings.ToUpper(w[13:]); eventNames[name] {
			return name, true
		}
	}
	return "", false
}
