// Package uuid is Kafka's Uuid: 16 random bytes whose text form is URL-safe
// base64 without padding (22 characters), used for topic ids, cluster ids
// and log directory ids.
package uuid

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// New returns a random (version 4) UUID as Kafka's Uuid.randomUuid
// does: never one of the 100 reserved UUIDs (most significant half zero,
// least significant half below 100) and never one whose text form starts
// with '-', which command-line tools would take for a flag.
func New() [16]byte {
	for {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			panic(fmt.Sprintf("uuid: crypto/rand: %v", err))
		}
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // IETF variant
		hi := binary.BigEndian.Uint64(id[:8])
		lo := binary.BigEndian.Uint64(id[8:])
		if hi == 0 && lo < 100 {
			continue
		}
		if strings.HasPrefix(Format(id), "-") {
			continue
		}
		return id
	}
}

// Format returns Kafka's text form of a Uuid: URL-safe base64 of the 16
// bytes without padding (22 characters), e.g. "AAAAAAAAAAAAAAAAAAAAAA" for
// the zero UUID.
func Format(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// Parse parses Kafka's text form of a Uuid. Like Kafka's
// Uuid.fromString it accepts the form with or without '=' padding.
func Parse(s string) ([16]byte, error) {
	var id [16]byte
	raw := strings.TrimRight(s, "=")
	if len(raw) != 22 || len(s)-len(raw) > 2 {
		return id, fmt.Errorf("uuid: %q: want 22 base64 characters", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return id, fmt.Errorf("uuid: %q: %w", s, err)
	}
	if len(b) != 16 {
		return id, fmt.Errorf("uuid: %q decodes to %d bytes, want 16", s, len(b))
	}
	copy(id[:], b)
	return id, nil
}
