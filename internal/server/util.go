package server

import (
	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func codeOf(err error) int16 { return apierror.Code(err) }

func messageOf(err error) *string { return apierror.Message(err) }

// resolveTopic finds a topic by name or, when the name is empty and id is
// set, by id (requests at versions with topic ids).
func resolveTopic(im *metadata.Image, name string, id [16]byte) (*metadata.Topic, bool) {
	if name != "" {
		return im.Topic(name)
	}
	return im.TopicByID(metadata.TopicID(id))
}
