package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// NewTopicID returns a random topic id that is neither Kafka's ZERO_UUID
// nor its reserved METADATA_TOPIC_ID, and whose text form does not start
// with '-' (Kafka's Uuid.randomUuid rule, so it cannot be taken for a CLI
// flag).
func NewTopicID() TopicID {
	for {
		var id TopicID
		if _, err := rand.Read(id[:]); err != nil {
			panic("metadata: crypto/rand failed: " + err.Error())
		}
		if id.IsZero() || id == (TopicID{15: 1}) {
			continue
		}
		if s := id.String(); s[0] == '-' {
			continue
		}
		return id
	}
}

func formatUUID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func parseUUID(s string) (TopicID, error) {
	var id TopicID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("metadata: invalid uuid %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// ParseTopicID parses a Kafka Uuid in its text form.
func ParseTopicID(s string) (TopicID, error) { return parseUUID(s) }
