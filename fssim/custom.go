package fssim

import (
	"strings"

	"bgcall/internal/uuid"
)

// FireCustom fires a CUSTOM event with the given subclass and headers
// (name, value pairs), as a module such as sofia would.
func (n *Node) FireCustom(subclass string, headers ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.newEvent("CUSTOM", "fssim", "FireCustom", "0")
	e.subclass = subclass
	e.add("Event-Subclass", subclass)
	for i := 0; i+1 < len(headers); i += 2 {
		e.add(headers[i], headers[i+1])
	}
	n.fire(e)
}

// sendEvent fires the event a client sent with "sendevent [NAME]" (rest is
// what follows "sendevent" on its line): the command's own headers first,
// Command cut at its first line end, then Event-UUID and the headers every
// event gets. NAME is matched as switch_name_event does and anything else
// makes a CUSTOM event; a CUSTOM event's Event-Subclass moves to the top.
// An event whose Unique-ID names a channel goes to that channel's queue,
// not to the listeners.
func (n *Node) sendEvent(rest string, req *request) string {
	name, ok := eventName(strings.TrimLeft(rest, " \t"))
	if !ok {
		name = "CUSTOM"
	}
	id := uuid.New()
	n.mu.Lock()
	defer n.mu.Unlock()
	if uuid := req.header("Unique-ID"); uuid != "" && n.channels[uuid] != nil {
		return "+OK " + id
	}
	e := n.newEvent(name, "mod_event_socket.c", "parse_command", "2275")
	common := e.headers
	e.headers = make([]header, 0, len(req.headers)+len(common)+2)
	subclass, _ := req.lookup("Event-Subclass")
	if name != "CUSTOM" {
		subclass = ""
	}
	if subclass != "" {
		e.subclass = subclass
		e.add("Event-Subclass", subclass)
	}
	command := true
	for _, h := range req.headers {
		switch {
		case command && strings.EqualFold(h.name, "Command"):
			h.value, command = stripCR(h.value), false // as parse_command left it
		case subclass != "" && strings.EqualFold(h.name, "Event-Subclass"):
			continue
		}
		e.headers = append(e.headers, h)
	}
	e.add("Event-UUID", id)
	e.headers = append(e.headers, common...)
	if len(req.body) > 0 {
		e.body, e.hasBody = string(req.body), true
	}
	n.fire(e)
	return "+OK " + id
}
