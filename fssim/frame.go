package fssim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on what a client may send in one command. FreeSWITCH has its own;
// these only keep a hostile client from making the node buffer without end.
const (
	maxLineLen  = 64 << 10
	maxHeaders  = 256
	maxBodySize = 1 << 20
)

// errFrameTooLarge reports a command that breaks the limits above; the
// connection is closed cleanly.
var errFrameTooLarge = errors.New("fssim: command frame too large")

// request is one command frame read from a client: the command line, the
// header lines after it (e.g. Job-UUID, or fs_cli's console_execute) and an
// optional body announced by Content-Length.
type request struct {
	line    string
	headers []header
	body    []byte
}

func (r *request) header(name string) string {
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// readLine reads one LF-terminated line without its line end (a trailing CR
// is dropped too, since clients may end commands with CRLF).
func readLine(r *bufio.Reader) (string, error) {
	chunk, err := r.ReadSlice('\n')
	if err == nil {
		// The whole line is in the reader's buffer: one copy.
		return string(trimLineEnd(chunk)), nil
	}
	var buf []byte
	for {
		if len(buf)+len(chunk) > maxLineLen {
			return "", errFrameTooLarge
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			chunk, err = r.ReadSlice('\n')
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	return string(trimLineEnd(buf)), nil
}

func trimLineEnd(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// readRequest reads the next command frame. Blank lines before a command are
// skipped, as FreeSWITCH does with stray line ends between commands.
func readRequest(r *bufio.Reader) (*request, error) {
	var line string
	for {
		l, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(l) != "" {
			line = l
			break
		}
	}
	req := &request{line: strings.TrimSpace(line)}
	for {
		l, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if l == "" {
			break
		}
		if len(req.headers) >= maxHeaders {
			return nil, errFrameTooLarge
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		req.headers = append(req.headers, header{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	if cl := req.header("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("fssim: bad Content-Length %q", cl)
		}
		if n > maxBodySize {
			return nil, errFrameTooLarge
		}
		req.body = make([]byte, n)
		if _, err := io.ReadFull(r, req.body); err != nil {
			return nil, err
		}
	}
	return req, nil
}
