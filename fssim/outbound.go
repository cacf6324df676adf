package fssim

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// socketApp runs the socket application: the node connects out to a
// controller, which drives the leg with sendmsg ("<host:port> [async]
// [full]"). When the connection fails the dialplan goes on, and with
// nothing after it the leg ends.
func (n *Node) socketApp(ch *channel, data string) {
	f := strings.Fields(data)
	if len(f) == 0 {
		return
	}
	addr := f[0]
	host, _, _ := net.SplitHostPort(addr)
	id := n.execute1(ch, "socket", data)
	ch.app, ch.appData = "socket", data
	ch.setVar("socket_host", host)
	async, full := false, false
	for _, w := range f[1:] {
		switch strings.ToLower(w) {
		case "async":
			async = true
		case "full":
			full = true
		}
	}
	gen := n.gen
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
		n.mu.Lock()
		defer n.mu.Unlock()
		if err != nil || n.closed || n.gen != gen || ch.gone {
			if nc != nil {
				nc.Close()
			}
			if err != nil && !n.closed && n.gen == gen && !ch.gone {
				n.opts.Logger.Warn("fssim: socket application", "addr", addr, "err", err)
				n.executeComplete(ch, "socket", data, "_none_", id)
				n.hangup(ch, "NORMAL_CLEARING")
			}
			return
		}
		c := newConn(n, nc)
		c.outbound, c.session, c.async, c.full = true, ch, async, full
		c.authed.Store(true)
		ch.sock = c
		n.conns[c] = struct{}{}
		c.start()
	}()
}

// outboundLoop serves an outbound connection: no auth, the controller
// speaks first. When the controller goes away the leg is hung up.
func (c *conn) outboundLoop() {
	_ = c.serve()
	c.shutdown(false)
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch := c.session; ch != nil && !ch.gone && n.channels[ch.uuid] == ch {
		ch.sock = nil
		// Without resume FreeSWITCH hangs the leg up; with it the dialplan
		// goes on, and in the shipped dialplan nothing follows the socket.
		n.hangup(ch, "NORMAL_CLEARING")
	}
}

// connectReply is the answer to connect: the channel's data as a
// CHANNEL_DATA event (its profile under "Channel-", then the ordinary
// channel headers and variables) followed by the reply headers, every
// value URL-encoded, Reply-Text included ("%2BOK%0A").
func (n *Node) connectReply(c *conn) []byte {
	ch := c.session
	e := n.newEvent("CHANNEL_DATA", "mod_event_socket.c", "parse_command", "1911")
	ch.profileWith(e, &channelNames, true)
	ch.basicData(e)
	e.headers = append(e.headers, ch.vars...)
	e.add("Content-Type", "command/reply")
	e.add("Reply-Text", "+OK\n")
	mode, control := "static", "single-channel"
	if c.async {
		mode = "async"
	}
	if c.full {
		control = "full"
	}
	e.add("Socket-Mode", mode)
	e.add("Control", control)
	return e.appendPlain(nil)
}

// sessionGone tells the controller its channel hung up: after the hangup
// events, a disconnect notice naming the channel; without linger the
// socket then closes, with it the controller may read on until it exits
// or the linger time ends. Called with Node.mu held.
func (c *conn) sessionGone(ch *channel) {
	disposition := "disconnect"
	if c.linger {
		disposition = "linger"
	}
	c.send([]byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + ch.uuid +
		"\nContent-Disposition: " + disposition + "\nContent-Length: " + strconv.Itoa(len(disconnectBody)) +
		"\n\n" + disconnectBody))
	if !c.linger {
		c.shutdownLocked()
		return
	}
	if c.lingerSecs >= 0 {
		c.n.after(time.Duration(c.lingerSecs)*c.n.opts.Second, c.shutdownLocked)
	}
}
