package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// topicName is t's name, "" for nil.
func topicName(t *metadata.Topic) string {
	if t == nil {
		return ""
	}
	return t.Name
}

// authzCode returns the code of the first failed check, 0 if none.
func authzCode(failed1 bool, code1 *kerr.Error, failed2 bool, code2 *kerr.Error) int16 {
	switch {
	case failed1:
		return code1.Code
	case failed2:
		return code2.Code
	}
	return 0
}
