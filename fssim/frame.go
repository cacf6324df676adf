package fssim

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// Limits on what a client may send in one command, as mod_event_socket's
// read_packet has them: a command that reaches maxCommand bytes without a
// blank line is taken as it stands. FreeSWITCH 1.10.12 reads whatever body
// Content-Length announces; later releases refuse more than
// maxContentLength and close the connection, and so does the simulator, so
// that a hostile client cannot make it buffer without end.
const (
	maxCommand       = 10485760
	maxContentLength = 16 << 20
)

// errFrameTooLarge reports a Content-Length above maxContentLength; the
// connection is closed with the disconnect notice.
var errFrameTooLarge = errors.New("fssim: command body too large")

// request is one command as read_packet hands it to parse_command: an event
// whose first header, Command, holds the whole text of the command as it
// came (first line, header lines and their line ends), followed by the
// "Name: value" headers parsed from the lines after the first, and a body
// when one of them was a positive Content-Length.
type request struct {
	headers []header
	body    []byte
}

// lookup returns the first header called name (case-insensitive), as
// switch_event_get_header does.
func (r *request) lookup(name string) (string, bool) {
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

func (r *request) header(name string) string {
	v, _ := r.lookup(name)
	return v
}

// add adds a header as switch_event_add_header_string does on the cloned
// event read_packet builds: duplicates are kept (the first one is what a
// lookup finds), and an empty value deletes every header of that name.
func (r *request) add(name, value string) {
	if value == "" {
		kept := r.headers[:0]
		for _, h := range r.headers {
			if !strings.EqualFold(h.name, name) {
				kept = append(kept, h)
			}
		}
		r.headers = kept
		return
	}
	if name == "_body" {
		r.body = []byte(value)
	}
	r.headers = append(r.headers, header{name, value})
}

// stripCR cuts s at its first CR or, when it has none, at its first LF: the
// strip_cr of mod_event_socket. The CR is looked for in the whole rest of
// the command, not only on the first line, which is why a command whose
// first line ends in LF and whose header lines end in CRLF keeps its header
// lines inside its first "line".
func stripCR(s string) string {
	if i := strings.IndexByte(s, '\r'); i >= 0 {
		return s[:i]
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// readRequest reads the next command as read_packet does: line ends before
// a command are skipped; the command ends at the second LF that follows an
// LF with nothing but CRs between them ("\n\n", "\r\n\r\n", "\n\r\n" ...);
// the text is cut at a NUL byte, as FreeSWITCH treats it as a C string.
func readRequest(r *bufio.Reader) (*request, error) {
	buf := make([]byte, 0, 256)
	newlines := 0
	for newlines < 2 && len(buf) < maxCommand {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if len(buf) == 0 && (c == '\r' || c == '\n') {
			continue
		}
		buf = append(buf, c)
		switch c {
		case '\n':
			newlines++
		case '\r':
		default:
			newlines = 0
		}
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return parseRequest(string(buf), r)
}

// parseRequest splits a command's text into headers as read_packet does.
// A line runs to the first CR of the rest of the text (or its first LF if
// there is no CR) and every CR and LF after it are skipped. The first line
// is not split off: Command is the whole text. Each later line with a colon
// is a header, its value after the spaces following the colon; a positive
// Content-Length reads that many bytes of body from r at once.
func parseRequest(text string, r *bufio.Reader) (*request, error) {
	req := &request{}
	req.add("Command", text)
	rest := text
	for first := true; ; first = false {
		end := strings.IndexByte(rest, '\r')
		if end < 0 {
			end = strings.IndexByte(rest, '\n')
		}
		line, next := rest, ""
		if end >= 0 {
			line = rest[:end]
			next = strings.TrimLeft(rest[end:], "\r\n")
		}
		if !first {
			if err := req.addLine(line, r); err != nil {
				return nil, err
			}
		}
		if end < 0 {
			return req, nil
		}
		rest = next
	}
}

func (req *request) addLine(line string, r *bufio.Reader) error {
	name, value, ok := strings.Cut(line, ":")
	if line == "" || !ok {
		return nil
	}
	value = strings.TrimLeft(value, " ")
	req.add(name, value)
	if !strings.EqualFold(name, "Content-Length") {
		return nil
	}
	n := atoi(value)
	if n <= 0 {
		return nil
	}
	if n > maxContentLength {
		return errFrameTooLarge
	}
	var body bytes.Buffer
	if _, err := io.CopyN(&body, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	b := body.Bytes()
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i] // the body is added with "%s"
	}
	req.body = b
	return nil
}

// atoi is C's atoi as glibc has it: leading white space, an optional sign,
// digits up to the first other byte; strtol's saturated long cut to an int.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v uint64
	const limit = 1 << 63
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if v < limit {
			v = v*10 + uint64(s[i]-'0')
		}
	}
	var l int64
	switch {
	case neg && v >= limit:
		l = -1 << 63
	case neg:
		l = -int64(v)
	case v >= limit:
		l = 1<<63 - 1
	default:
		l = int64(v)
	}
	return int(int32(l))
}
