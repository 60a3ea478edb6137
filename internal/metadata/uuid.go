package metadata

import (
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// NewTopicID returns a random topic id (Kafka's Uuid.randomUuid rules: not
// a reserved id, text form not starting with '-').
func NewTopicID() TopicID { return TopicID(uuid.New()) }

// ParseTopicID parses a Kafka Uuid in its text form.
func ParseTopicID(s string) (TopicID, error) {
	id, err := uuid.Parse(s)
	return TopicID(id), err
}
