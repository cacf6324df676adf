package fssim

import (
	"strconv"
	"strings"
)

// header is one event header; events keep their headers in order because
// FreeSWITCH serializes them in insertion order.
type header struct {
	name, value string
}

// event is a FreeSWITCH event before serialization.
type event struct {
	name     string // Event-Name
	subclass string // CUSTOM subclass, "" otherwise
	headers  []header
	body     string
	hasBody  bool
	uuid     string // Unique-ID of the channel it concerns, "" if none (for reordering faults)

	plain    []byte // text/event-plain frame, built once for all connections
	plainOff int    // where the payload starts in plain
	json     []byte // text/event-json payload
	xml      []byte // text/event-xml payload
}

// add appends a header; on a nil event (one nobody subscribed to) it does
// nothing.
func (e *event) add(name, value string) {
	if e != nil {
		e.headers = append(e.headers, header{name, value})
	}
}

func (e *event) get(name string) (string, bool) {
	for _, h := range e.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

const hexUpper = "0123456789ABCDEF"

// urlUnsafe lists the bytes switch_url_encode always escapes besides control
// bytes and bytes above '~'.
const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

// mustEncode marks the bytes urlEncode escapes.
var mustEncode = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, byte(c)) >= 0
	}
	return t
}()

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// urlEncode escapes a header value the way FreeSWITCH's switch_url_encode
// does: uppercase hex, and a '%' already starting a valid escape is kept.
func urlEncode(s string) string {
	for i := 0; i < len(s); i++ {
		if mustEncode[s[i]] {
			return string(appendURLEncoded(make([]byte, 0, len(s)+16), s))
		}
	}
	return s
}

// appendURLEncoded appends urlEncode(s) to b without an intermediate string.
// Runs of bytes that need no escape are copied at once: most values have
// none, and this is the inner loop of every event written.
func appendURLEncoded(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !mustEncode[c] || (c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])) {
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		start = i + 1
	}
	return append(b, s[start:]...)
}

// urlDecode reverses urlEncode; malformed escapes are kept as they are.
func urlDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		if c == '+' {
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// framePrefix is room left before a payload for the outer frame headers,
// so a serialized event becomes a frame without another copy.
const framePrefix = 64

// serializePlain renders the payload of a text/event-plain frame, as
// switch_event_serialize does with encoding on.
func (e *event) serializePlain() []byte {
	f := e.plainFrame()
	return f[e.plainOff:]
}

// plainFrame is the event as a whole text/event-plain frame, built once
// for every connection.
func (e *event) plainFrame() []byte {
	if e.plain == nil {
		size := framePrefix + 32 + len(e.body)
		for _, h := range e.headers {
			size += len(h.name) + len(h.value) + 16 // room for a few escapes
		}
		buf := e.appendPlain(make([]byte, framePrefix, size))
		e.plain, e.plainOff = withFrame("text/event-plain", buf)
	}
	return e.plain
}

func (e *event) appendPlain(b []byte) []byte {
	for _, h := range e.headers {
		b = append(b, h.name...)
		b = append(b, ": "...)
		if h.value == "" {
			b = append(b, "_undef_"...)
		} else {
			b = appendURLEncoded(b, h.value)
		}
		b = append(b, '\n')
	}
	if e.hasBody && e.body != "" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(e.body)), 10)
		b = append(b, "\n\n"...)
		b = append(b, e.body...)
	} else {
		b = append(b, '\n')
	}
	return b
}

// serializeJSON renders the payload of a text/event-json frame the way
// cJSON_PrintUnformatted prints switch_event_serialize_json's object.
func (e *event) serializeJSON() []byte {
	if e.json != nil {
		return e.json
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	put := func(k, v string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, v)
	}
	for _, h := range e.headers {
		put(h.name, h.value)
	}
	if e.hasBody {
		put("Content-Length", strconv.Itoa(len(e.body)))
		put("_body", e.body)
	}
	b.WriteByte('}')
	e.json = []byte(b.String())
	return e.json
}

// serializeXML renders a text/event-xml payload the way switch_event_xmlize
// lays an event out: URL-encoded header values under <headers>, then the
// body's Content-Length and the body. The indentation of FreeSWITCH's XML
// printer is approximated (two spaces a level).
func (e *event) serializeXML() []byte {
	if e.xml != nil {
		return e.xml
	}
	var b strings.Builder
	b.WriteString("<event>\n  <headers>\n")
	for _, h := range e.headers {
		b.WriteString("    <" + h.name + ">")
		b.WriteString(xmlEscape(urlEncode(h.value)))
		b.WriteString("</" + h.name + ">\n")
	}
	b.WriteString("  </headers>\n")
	if e.hasBody && e.body != "" {
		b.WriteString("  <Content-Length>" + strconv.Itoa(len(e.body)) + "</Content-Length>\n")
		b.WriteString("  <body>" + xmlEscape(e.body) + "</body>\n")
	}
	b.WriteString("</event>")
	e.xml = []byte(b.String())
	return e.xml
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }

// writeJSONString quotes s as cJSON does: the short escapes, \u00XX for other
// control bytes, everything else (including non-ASCII and '/') verbatim.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < ' ' {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[c>>4])
				b.WriteByte("0123456789abcdef"[c&15])
				continue
			}
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// replyFrame is a command/reply frame; extra headers follow Reply-Text.
func replyFrame(text string, extra ...header) []byte {
	b := make([]byte, 0, 64+len(text))
	b = append(b, "Content-Type: command/reply\nReply-Text: "...)
	b = append(b, text...)
	b = append(b, '\n')
	for _, h := range extra {
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = append(b, h.value...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

// apiFrame is an api/response frame with the command output as body.
func apiFrame(body string) []byte {
	return []byte("Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
}

// eventFrame wraps a serialized event payload; FreeSWITCH writes
// Content-Length before Content-Type on events.
func eventFrame(contentType string, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+64)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, "\nContent-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\n\n"...)
	return append(b, payload...)
}

// withFrame writes the outer frame headers into the room left before the
// payload (which starts framePrefix bytes into buf) and returns the frame
// and the payload's offset in it.
func withFrame(contentType string, buf []byte) ([]byte, int) {
	var head [framePrefix]byte
	h := head[:0]
	h = append(h, "Content-Length: "...)
	h = strconv.AppendInt(h, int64(len(buf)-framePrefix), 10)
	h = append(h, "\nContent-Type: "...)
	h = append(h, contentType...)
	h = append(h, "\n\n"...)
	start := framePrefix - len(h)
	copy(buf[start:], h)
	return buf[start:], len(h)
}

const disconnectBody = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

var disconnectNotice = []byte("Content-Type: text/disconnect-notice\nContent-Length: " +
	strconv.Itoa(len(disconnectBody)) + "\n\n" + disconnectBody)
