package fssim

import (
	"regexp"
	"strings"
)

// deliver queues an event if this connection wants it. Called with Node.mu
// held.
func (c *conn) deliver(e *event) {
	if c.format == "" || !c.wants(e) {
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

func (c *conn) subscribe(args string) string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	words := strings.Fields(args)
	format := "plain"
	if len(words) > 0 {
		switch strings.ToLower(words[0]) {
		case "plain", "json", "xml":
			format = strings.ToLower(words[0])
			words = words[1:]
		}
	}
	keys, custom := 0, false
	for _, w := range words {
		if custom {
			c.subclasses[w] = true
			continue
		}
		name := strings.ToUpper(w)
		if !knownEvent(name) {
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
	c.n.events.stale = true
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.format = format
	return "+OK event listener enabled " + format
}

func (c *conn) nix(args string) string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	c.n.events.stale = true
	keys, custom := 0, false
	for _, w := range strings.Fields(args) {
		if custom {
			delete(c.subclasses, w)
			continue
		}
		name := strings.ToUpper(w)
		if !knownEvent(name) {
			continue
		}
		keys++
		switch name {
		case "ALL":
			c.all = false
			c.names = make(map[string]bool)
			c.subclasses = make(map[string]bool)
		case "CUSTOM":
			custom = true
		default:
			delete(c.names, name)
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	return "+OK events nixed"
}

func (c *conn) noevents() string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if c.format == "" {
		return "-ERR not listening for events"
	}
	c.n.events.stale = true
	c.format = ""
	c.all = false
	c.names = make(map[string]bool)
	c.subclasses = make(map[string]bool)
	return "+OK no longer listening for events"
}

func (c *conn) filter(args string) string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	name, value, _ := strings.Cut(args, " ")
	if strings.EqualFold(name, "delete") {
		name, value, _ = strings.Cut(strings.TrimSpace(value), " ")
		value = strings.TrimSpace(value)
		if name == "" {
			return "-ERR invalid syntax"
		}
		kept := c.filters[:0]
		for _, f := range c.filters {
			if strings.EqualFold(name, "all") || (f.name == name && (value == "" || f.value == value)) {
				continue
			}
			kept = append(kept, f)
		}
		c.filters = kept
		return "+OK filter deleted. [" + name + "][" + value + "]"
	}
	value = strings.TrimSpace(value)
	if name == "" || value == "" {
		return "-ERR invalid syntax"
	}
	c.filters = append(c.filters, header{name, value})
	return "+OK filter added. [" + name + "]=[" + value + "]"
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

func knownEvent(name string) bool { return eventNames[name] }
