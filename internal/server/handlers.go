package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handler serves one API key at versions min..max.
type handler struct {
	key, min, max int16
	// fn answers req. It returns a nil response to send none (acks=0),
	// and an error only when the connection must close.
	fn func(s *Server, c *conn, req kmsg.Request) (kmsg.Response, error)
}

var handlers = map[int16]*handler{}

// register declares a handler; each API file calls it from init, next to
// the handler, with the versions it serves.
func register(h handler) {
	if _, dup := handlers[h.key]; dup {
		panic(fmt.Sprintf("server: api key %d registered twice", h.key))
	}
	if h.max > kmsg.RequestForKey(h.key).MaxVersion() {
		panic(fmt.Sprintf("server: api key %d max version %d beyond kmsg", h.key, h.max))
	}
	handlers[h.key] = &h
}

func lookupHandler(key int16) *handler { return handlers[key] }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
