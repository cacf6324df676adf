// Package uuid makes the random UUIDs bgcall names things with: the legs
// it dials (origination_uuid), ESL job and event UUIDs, and the simulator's
// channels.
package uuid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a random (version 4) UUID in the lowercase 8-4-4-4-12 form
// FreeSWITCH uses.
func New() string {
	var b [16]byte
	rand.Read(b[:])         // never fails (crypto/rand.Read's contract since Go 1.24)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
