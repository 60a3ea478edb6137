package metadata

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

// Broker registration records, as Kafka's KRaft metadata log has them
// (KIP-631; the in-controlled-shutdown state is KIP-841's):
//
//	RegisterBrokerRecord            a broker (re)registers: id, incarnation,
//	                                epoch, endpoints, rack; always fenced
//	BrokerRegistrationChangeRecord  fence, unfence, or enter controlled
//	                                shutdown, for the registration whose
//	                                epoch it names (Kafka 4's replacement
//	                                for Fence/UnfenceBrokerRecord)
//	UnregisterBrokerRecord          the registration with that epoch is gone
//
// The fields of all three live in Record.Broker.

// Broker record types.
const (
	TypeRegisterBroker           RecordType = "RegisterBrokerRecord"
	TypeUnregisterBroker         RecordType = "UnregisterBrokerRecord"
	TypeBrokerRegistrationChange RecordType = "BrokerRegistrationChangeRecord"
)

// Fencing changes of a BrokerRegistrationChangeRecord, with the values of
// Kafka's BrokerRegistrationFencingChange.
const (
	FencingNoChange int8 = 0
	FencingFence    int8 = 1
	FencingUnfence  int8 = -1
)

// Controlled-shutdown changes of a BrokerRegistrationChangeRecord, with the
// values of Kafka's BrokerRegistrationInControlledShutdownChange.
const (
	ControlledShutdownNoChange int8 = 0
	ControlledShutdownEnter    int8 = 1
)

// Security protocols of an Endpoint, with Kafka's SecurityProtocol ids.
const (
	ProtocolPlaintext     int16 = 0
	ProtocolSSL           int16 = 1
	ProtocolSASLPlaintext int16 = 2
	ProtocolSASLSSL       int16 = 3
)

// Errors of applying broker records.
var (
	ErrUnknownBroker      = errors.New("metadata: no such broker registration")
	ErrBrokerEpochChanged = errors.New("metadata: broker epoch does not match the registration")
)

// IncarnationID is a broker process's Kafka Uuid, new every time it
// starts; it tells a restarted broker from a second one with the same id.
type IncarnationID [16]byte

// NewIncarnationID returns a random incarnation id.
func NewIncarnationID() IncarnationID { return IncarnationID(uuid.New()) }

// String formats the id as Kafka does.
func (id IncarnationID) String() string { return uuid.Format(id) }

// IsZero reports whether the id is Kafka's ZERO_UUID.
func (id IncarnationID) IsZero() bool { return id == IncarnationID{} }

// MarshalText implements encoding.TextMarshaler.
func (id IncarnationID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *IncarnationID) UnmarshalText(b []byte) error {
	v, err := uuid.Parse(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Endpoint is one listener of a broker, as Metadata responses advertise it.
type Endpoint struct {
	// Listener is the listener name (PLAINTEXT, INTERNAL, ...).
	Listener         string `json:"name"`
	Host             string `json:"host"`
	Port             int32  `json:"port"`
	SecurityProtocol int16  `json:"securityProtocol"`
}

// BrokerRecord carries the fields of the broker record types. Which are
// set depends on Record.Type:
//
//	                      ID Epoch Incarnation Endpoints Rack Fenced ICS  FencingChange CSChange
//	RegisterBroker        x  x     x           x         x    x      x
//	UnregisterBroker      x  x
//	RegistrationChange    x  x                                           x             x
type BrokerRecord struct {
	ID    int32 `json:"brokerId"`
	Epoch int64 `json:"brokerEpoch"`

	IncarnationID IncarnationID `json:"incarnationId,omitzero"`
	Endpoints     []Endpoint    `json:"endPoints,omitempty"`
	// Rack is broker.rack; empty for none.
	Rack                 string `json:"rack,omitempty"`
	Fenced               bool   `json:"fenced,omitempty"`
	InControlledShutdown bool   `json:"inControlledShutdown,omitempty"`

	// FencingChange is one of the Fencing constants.
	FencingChange int8 `json:"fencingChange,omitempty"`
	// ControlledShutdownChange is one of the ControlledShutdown constants.
	ControlledShutdownChange int8 `json:"controlledShutdownChange,omitempty"`
}

// Broker is the registration of one broker in an Image. Callers must not
// modify it or its Endpoints.
type Broker struct {
	ID int32
	// Epoch is the broker epoch: the Offset of the first Image that held
	// this registration. A re-registration gets a new, larger one.
	Epoch         int64
	IncarnationID IncarnationID
	// Endpoints are sorted by listener name.
	Endpoints []Endpoint
	// Rack is broker.rack, empty when unset.
	Rack string
	// Fenced brokers lead no partition and join no ISR. A broker is
	// fenced from registration until its first heartbeat after catching
	// up with the metadata log, and again when its session expires.
	Fenced bool
	// InControlledShutdown is set while the broker moves its leaderships
	// away before shutting down; it is cleared when the broker is fenced.
	InControlledShutdown bool
}

// Active reports whether the broker may lead partitions and join ISRs:
// unfenced and not shutting down (Kafka's ClusterControlManager.isActive).
func (b *Broker) Active() bool { return !b.Fenced && !b.InControlledShutdown }

// Endpoint returns the broker's endpoint on the named listener.
func (b *Broker) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Record returns the RegisterBrokerRecord that recreates b exactly,
// fencing and controlled-shutdown state included (for snapshots: applied
// to an image without the broker, it yields an equal registration).
func (b *Broker) Record() Record {
	return Record{Type: TypeRegisterBroker, Broker: &BrokerRecord{
		ID:                   b.ID,
		Epoch:                b.Epoch,
		IncarnationID:        b.IncarnationID,
		Endpoints:            slices.Clone(b.Endpoints),
		Rack:                 b.Rack,
		Fenced:               b.Fenced,
		InControlledShutdown: b.InControlledShutdown,
	}}
}

// Broker returns the registration of broker id.
func (im *Image) Broker(id int32) (*Broker, bool) {
	b, ok := im.brokers[id]
	return b, ok
}

// Brokers returns every registered broker, fenced or not, sorted by id.
// The slice is the caller's; the Brokers are shared.
func (im *Image) Brokers() []*Broker {
	out := make([]*Broker, 0, len(im.brokers))
	for _, id := range slices.Sorted(maps.Keys(im.brokers)) {
		out = append(out, im.brokers[id])
	}
	return out
}

// NumBrokers returns the number of registered brokers.
func (im *Image) NumBrokers() int { return len(im.brokers) }

// applyBroker applies a broker record to im, an image under construction
// by Apply that owns its brokers map (registrations themselves are shared
// with older images, so they are replaced, never edited).
func (im *Image) applyBroker(r Record) error {
	br := r.Broker
	if br == nil {
		return fmt.Errorf("metadata: %s without broker fields", r.Type)
	}
	if im.brokers == nil {
		im.brokers = map[int32]*Broker{}
	}
	if r.Type == TypeRegisterBroker {
		if br.ID < 0 {
			return fmt.Errorf("metadata: register broker %d: invalid id", br.ID)
		}
		eps := slices.Clone(br.Endpoints)
		slices.SortFunc(eps, func(a, b Endpoint) int { return cmp.Compare(a.Listener, b.Listener) })
		im.brokers[br.ID] = &Broker{
			ID:                   br.ID,
			Epoch:                br.Epoch,
			IncarnationID:        br.IncarnationID,
			Endpoints:            eps,
			Rack:                 br.Rack,
			Fenced:               br.Fenced,
			InControlledShutdown: br.InControlledShutdown,
		}
		return nil
	}
	cur, ok := im.brokers[br.ID]
	if !ok {
		return fmt.Errorf("%w: %s for broker %d", ErrUnknownBroker, r.Type, br.ID)
	}
	if cur.Epoch != br.Epoch {
		return fmt.Errorf("%w: %s for broker %d at epoch %d, registered at %d", ErrBrokerEpochChanged, r.Type, br.ID, br.Epoch, cur.Epoch)
	}
	if r.Type == TypeUnregisterBroker {
		delete(im.brokers, br.ID)
		return nil
	}
	next := *cur
	switch br.FencingChange {
	case FencingNoChange:
	case FencingFence:
		next.Fenced = true
		// A fenced broker has left controlled shutdown: it is told to
		// shut down now, or comes back through a new registration.
		next.InControlledShutdown = false
	case FencingUnfence:
		next.Fenced = false
	default:
		return fmt.Errorf("metadata: broker %d: invalid fencing change %d", br.ID, br.FencingChange)
	}
	switch br.ControlledShutdownChange {
	case ControlledShutdownNoChange:
	case ControlledShutdownEnter:
		if next.Fenced {
			return fmt.Errorf("metadata: broker %d: a fenced broker cannot enter controlled shutdown", br.ID)
		}
		next.InControlledShutdown = true
	default:
		return fmt.Errorf("metadata: broker %d: invalid controlled shutdown change %d", br.ID, br.ControlledShutdownChange)
	}
	im.brokers[br.ID] = &next
	return nil
}
