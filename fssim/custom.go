package fssim

import "strings"

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

// sendEvent fires an event a client sent with "sendevent <NAME>".
func (n *Node) sendEvent(name string, req *request) string {
	name = strings.ToUpper(strings.TrimSpace(name))
	if !knownEvent(name) || name == "ALL" {
		name = "CUSTOM"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.newEvent(name, "mod_event_socket.c", "parse_command", "1897")
	id := newUUID()
	for _, h := range req.headers {
		switch {
		case strings.EqualFold(h.name, "Content-Length"):
		case strings.EqualFold(h.name, "Event-Subclass"):
			e.subclass = h.value
			e.add("Event-Subclass", h.value)
		default:
			e.add(h.name, h.value)
		}
	}
	e.add("Event-UUID", id)
	if len(req.body) > 0 {
		e.body, e.hasBody = string(req.body), true
	}
	n.fire(e)
	return "+OK " + id
}
