package esl

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadFrame feeds the frame reader that every byte from FreeSWITCH
// goes through: whatever arrives, it returns a frame or an error, never
// panics, and never hands out a body longer than the Content-Length it
// read or than the bytes it was given.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("Content-Type: auth/request\n\n"))
	f.Add([]byte("Content-Type: command/reply\nReply-Text: +OK accepted\n\n"))
	f.Add([]byte("Content-Type: api/response\nContent-Length: 3\n\n+OK"))
	f.Add([]byte("Content-Length: 40\nContent-Type: text/event-plain\n\nEvent-Name: HEARTBEAT\nCore-UUID: x\n\n"))
	f.Add([]byte("Content-Length: -1\n\n"))
	f.Add([]byte("Content-Length: 99999999999\n\n"))
	f.Add([]byte("\r\n\r\nContent-Type: text/disconnect-notice\r\nContent-Length: 4\r\n\r\nbye\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		for range 16 {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			if fr.bodyStart > len(fr.raw) || len(fr.raw) > len(data) {
				t.Fatalf("frame of %d bytes (body at %d) from %d bytes of input", len(fr.raw), fr.bodyStart, len(data))
			}
		}
	})
}
