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
	// quorumOnly handlers are served on broker listeners only when the
	// node runs a controller quorum (there they are forwarded to the
	// active controller; see forward.go).
	quorumOnly bool
}

// Two registries, as Kafka's ApiMessageType listeners: handlers serves
// broker listeners; controllerHandlers serves the listeners named in
// controller.listener.names (a Server with Config.ControllerEndpoint),
// together with the broker handlers of controllerShared.
var (
	handlers           = map[int16]*handler{}
	controllerHandlers = map[int16]*handler{}
)

// controllerShared are the broker handlers a controller listener serves
// too, with the same code and versions: the admin requests brokers
// forward (and tools may send directly), and ApiVersions.
var controllerShared = map[int16]bool{
	apiVersionsKey: true,
	19:             true, // CreateTopics
	20:             true, // DeleteTopics
	33:             true, // AlterConfigs
	37:             true, // CreatePartitions
	43:             true, // ElectLeaders
	44:             true, // IncrementalAlterConfigs
	45:             true, // AlterPartitionReassignments
	46:             true, // ListPartitionReassignments
}

// register declares a broker-listener handler; each API file calls it
// from init, next to the handler, with the versions it serves.
func register(h handler) { add(handlers, h) }

// registerController declares a handler served only on controller
// listeners (BrokerRegistration, BrokerHeartbeat, AlterPartition, ...).
func registerController(h handler) { add(controllerHandlers, h) }

func add(m map[int16]*handler, h handler) {
	if _, dup := m[h.key]; dup {
		panic(fmt.Sprintf("server: api key %d registered twice", h.key))
	}
	if h.max > kmsg.RequestForKey(h.key).MaxVersion() {
		panic(fmt.Sprintf("server: api key %d max version %d beyond kmsg", h.key, h.max))
	}
	m[h.key] = &h
}

// lookupHandler returns the handler this server serves key with, or nil.
func (s *Server) lookupHandler(key int16) *handler {
	if s.cfg.ControllerEndpoint {
		if h := controllerHandlers[key]; h != nil {
			return h
		}
		if controllerShared[key] {
			return handlers[key]
		}
		return nil
	}
	h := handlers[key]
	if h != nil && h.quorumOnly && s.deps.Forwarder == nil {
		return nil
	}
	return h
}

// served calls fn with every handler this server serves.
func (s *Server) served(fn func(*handler)) {
	if s.cfg.ControllerEndpoint {
		for _, h := range controllerHandlers {
			fn(h)
		}
		for k := range controllerShared {
			if _, own := controllerHandlers[k]; !own && handlers[k] != nil {
				fn(handlers[k])
			}
		}
		return
	}
	for _, h := range handlers {
		if !h.quorumOnly || s.deps.Forwarder != nil {
			fn(h)
		}
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
