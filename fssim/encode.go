package fssim

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	uuid     string // its Unique-ID header when it is a channel's event, "" if none

	plain    []byte       // text/event-plain frame, built once for all connections
	plainOff int          // where the payload starts in plain
	plainBuf *sharedFrame // the buffer plain is in
	json     []byte       // text/event-json frame, built once for all connections
	jsonOff  int          // where the payload starts in json
	xml      []byte       // text/event-xml frame, built once for all connections
	xmlOff   int          // where the payload starts in xml
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
			size += len(h.name) + len(h.value) + 3
		}
		size += size / 8 // room for escapes
		f := takeFrame(size)
		f.b = e.appendPlain(f.b[:framePrefix])
		e.plainBuf = f
		e.plain, e.plainOff = withFrame("text/event-plain", f.b)
	}
	return e.plain
}

// sharedFrame is the buffer of an event's plain frame. Every connection
// the frame is queued on holds a reference, as does the event until it has
// been routed; the last to let go returns the buffer for a later event.
type sharedFrame struct {
	b    []byte
	refs atomic.Int32
}

// maxPooledFrame keeps rare huge frames (big bodies) out of the pool.
const maxPooledFrame = 64 << 10

var framePool sync.Pool // of *sharedFrame

// takeFrame returns a frame buffer of at least size bytes, referenced once.
func takeFrame(size int) *sharedFrame {
	f, _ := framePool.Get().(*sharedFrame)
	if f == nil {
		f = new(sharedFrame)
	}
	if cap(f.b) < size {
		f.b = make([]byte, 0, size)
	}
	f.refs.Store(1)
	return f
}

func (f *sharedFrame) hold() { f.refs.Add(1) }

// release drops a reference; the caller must not touch f.b afterwards.
func (f *sharedFrame) release() {
	if f.refs.Add(-1) == 0 && cap(f.b) <= maxPooledFrame {
		framePool.Put(f)
	}
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
	f := e.jsonFrame()
	return f[e.jsonOff:]
}

// jsonFrame is the event as a whole text/event-json frame, built once for
// every connection.
func (e *event) jsonFrame() []byte {
	if e.json != nil {
		return e.json
	}
	size := framePrefix + 32 + 2*len(e.body)
	for _, h := range e.headers {
		size += len(h.name) + len(h.value) + 6
	}
	b := append(make([]byte, framePrefix, size), '{')
	put := func(k, v string) {
		if len(b) > framePrefix+1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	for _, h := range e.headers {
		put(h.name, h.value)
	}
	if e.hasBody {
		put("Content-Length", strconv.Itoa(len(e.body)))
		put("_body", e.body)
	}
	b = append(b, '}')
	e.json, e.jsonOff = withFrame("text/event-json", b)
	return e.json
}

// xmlFrame is the event as a whole text/event-xml frame, built once for
// every connection. Its payload is laid out the way switch_event_xmlize
// lays an event out: URL-encoded header values under <headers>, then the
// body's Content-Length and the body. The indentation of FreeSWITCH's XML
// printer is approximated (two spaces a level).
func (e *event) xmlFrame() []byte {
	if e.xml != nil {
		return e.xml
	}
	size := framePrefix + 64 + 2*len(e.body)
	for _, h := range e.headers {
		size += 2*len(h.name) + len(h.value) + 12
	}
	b := append(make([]byte, framePrefix, size), "<event>\n  <headers>\n"...)
	for _, h := range e.headers {
		// URL encoding leaves none of the bytes XML escapes.
		b = append(b, "    <"...)
		b = append(b, h.name...)
		b = append(b, '>')
		b = appendURLEncoded(b, h.value)
		b = append(b, "</"...)
		b = append(b, h.name...)
		b = append(b, ">\n"...)
	}
	b = append(b, "  </headers>\n"...)
	if e.hasBody && e.body != "" {
		b = append(b, "  <Content-Length>"...)
		b = strconv.AppendInt(b, int64(len(e.body)), 10)
		b = append(b, "</Content-Length>\n  <body>"...)
		b = appendXMLEscaped(b, e.body)
		b = append(b, "</body>\n"...)
	}
	b = append(b, "</event>"...)
	e.xml, e.xmlOff = withFrame("text/event-xml", b)
	return e.xml
}

// appendXMLEscaped escapes the characters XML text may not hold as is.
func appendXMLEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendJSONString quotes s as cJSON does: the short escapes, \u00XX for
// other control bytes, everything else (including non-ASCII and '/')
// verbatim.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// writeJSONString is appendJSONString for a strings.Builder.
func writeJSONString(b *strings.Builder, s string) {
	var buf [64]byte
	b.Write(appendJSONString(buf[:0], s))
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
