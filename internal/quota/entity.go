package quota

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// Entity types, as Kafka's ClientQuotaEntity names them.
const (
	EntityUser     = "user"
	EntityClientID = "client-id"
	EntityIP       = "ip"
)

// DefaultName is how tools and Kafka's ZooKeeper paths write a <default>
// entity part; on the wire a default is a null name.
const DefaultName = "<default>"

// Quota config keys (Kafka's QuotaConfig).
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

// Sentinel errors.
var (
	// ErrInvalidEntity is an entity Kafka refuses (INVALID_REQUEST).
	ErrInvalidEntity = errors.New("quota: invalid entity")
	// ErrInvalidValue is a quota key or value Kafka refuses
	// (INVALID_REQUEST).
	ErrInvalidValue = errors.New("quota: invalid quota")
)

// Part is one part of an entity: absent, <default>, or a name.
type Part struct {
	// Present says the entity has this part.
	Present bool
	// Default is the <default> entity (a null name on the wire).
	Default bool
	// Name is the user, client id or IP when not Default.
	Name string
}

// Named returns a part naming name.
func Named(name string) Part { return Part{Present: true, Name: name} }

// Default returns the <default> part.
func Default() Part { return Part{Present: true, Default: true} }

// NameOrNil is the wire form of p's name: nil for <default>.
func (p Part) NameOrNil() *string {
	if p.Default {
		return nil
	}
	n := p.Name
	return &n
}

func (p Part) String() string {
	if p.Default {
		return DefaultName
	}
	return p.Name
}

// Entity is a quota entity. It is comparable and used as a map key.
type Entity struct {
	User     Part
	ClientID Part
	IP       Part
}

// String writes e as Kafka's ZooKeeper path did:
// "users/alice/clients/app", "clients/<default>", "ips/10.0.0.1".
func (e Entity) String() string {
	var parts []string
	if e.User.Present {
		parts = append(parts, "users/"+e.User.String())
	}
	if e.ClientID.Present {
		parts = append(parts, "clients/"+e.ClientID.String())
	}
	if e.IP.Present {
		parts = append(parts, "ips/"+e.IP.String())
	}
	return strings.Join(parts, "/")
}

// Components lists e's parts by entity type in Kafka's order (user,
// client-id, ip), with nil names for defaults.
func (e Entity) Components() []Component {
	var cs []Component
	if e.User.Present {
		cs = append(cs, Component{Type: EntityUser, Name: e.User.NameOrNil()})
	}
	if e.ClientID.Present {
		cs = append(cs, Component{Type: EntityClientID, Name: e.ClientID.NameOrNil()})
	}
	if e.IP.Present {
		cs = append(cs, Component{Type: EntityIP, Name: e.IP.NameOrNil()})
	}
	return cs
}

// Component is one (entity type, name) pair of a request or record; a nil
// Name is <default>.
type Component struct {
	Type string
	Name *string
}

// NewEntity builds an entity from wire components, checking it as
// Kafka's ClientQuotaControlManager.validateEntity and
// configKeysForEntityType do. Errors wrap ErrInvalidEntity and carry
// Kafka's message.
func NewEntity(cs []Component) (Entity, error) {
	var e Entity
	if len(cs) == 0 {
		return e, fmt.Errorf("%w: Invalid empty client quota entity", ErrInvalidEntity)
	}
	for _, c := range cs {
		var p *Part
		switch c.Type {
		case EntityUser:
			p = &e.User
		case EntityClientID:
			p = &e.ClientID
		case EntityIP:
			p = &e.IP
		}
		if p != nil && p.Present {
			return e, fmt.Errorf("%w: Invalid client quota entity, duplicate entity entry %s", ErrInvalidEntity, c.Type)
		}
		if p == nil {
			return e, fmt.Errorf("%w: Unhandled client quota entity type: %s", ErrInvalidEntity, c.Type)
		}
		p.Present = true
		if c.Name == nil {
			p.Default = true
			continue
		}
		if *c.Name == "" {
			return e, fmt.Errorf("%w: Empty %s not supported", ErrInvalidEntity, c.Type)
		}
		p.Name = *c.Name
	}
	if e.IP.Present {
		if e.User.Present || e.ClientID.Present {
			// Kafka's message, missing space included.
			return e, fmt.Errorf("%w: Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId", ErrInvalidEntity)
		}
		if !e.IP.Default {
			if _, err := netip.ParseAddr(e.IP.Name); err != nil {
				return e, fmt.Errorf("%w: %s is not a valid IP or resolvable host.", ErrInvalidEntity, e.IP.Name)
			}
		}
	}
	return e, nil
}

// keyKind is how a quota value must look (Kafka's ConfigDef type).
type keyKind int

const (
	kindLong keyKind = iota
	kindInt
	kindDouble
)

var userClientKeys = map[string]keyKind{
	ProducerByteRate:       kindLong,
	ConsumerByteRate:       kindLong,
	RequestPercentage:      kindDouble,
	ControllerMutationRate: kindDouble,
}

var ipKeys = map[string]keyKind{
	ConnectionCreationRate: kindInt,
}

// KeysFor returns the quota keys entity e may have, sorted.
func KeysFor(e Entity) []string {
	if e.IP.Present {
		return []string{ConnectionCreationRate}
	}
	return []string{ConsumerByteRate, ControllerMutationRate, ProducerByteRate, RequestPercentage}
}

// IsLongKey reports whether key holds a whole number (Kafka prints those
// as doubles, "1024.0", all the same).
func IsLongKey(key string) bool {
	k, ok := userClientKeys[key]
	if !ok {
		k, ok = ipKeys[key]
	}
	return ok && k != kindDouble
}

// ValidateValue checks that key is a quota of entity e and value a valid
// setting of it (ClientQuotaControlManager.validateQuotaKeyValue): a
// whole number for the byte rates and connection_creation_rate. Errors
// wrap ErrInvalidValue and carry Kafka's message.
func ValidateValue(e Entity, key string, value float64) error {
	keys := userClientKeys
	if e.IP.Present {
		keys = ipKeys
	}
	kind, ok := keys[key]
	if !ok {
		return fmt.Errorf("%w: Invalid configuration key %s", ErrInvalidValue, key)
	}
	if kind == kindDouble {
		return nil
	}
	const epsilon = 1e-6
	if math.IsNaN(value) || math.IsInf(value, 0) || math.Abs(math.Trunc(value+epsilon)-value) > epsilon {
		return fmt.Errorf("%w: Configuration %s must be a Long value", ErrInvalidValue, key)
	}
	return nil
}

// Message is err's text without the package prefix: the message Kafka
// puts in a response.
func Message(err error) string {
	msg := err.Error()
	for _, s := range []error{ErrInvalidEntity, ErrInvalidValue} {
		if p := s.Error() + ": "; strings.HasPrefix(msg, p) {
			return strings.TrimPrefix(msg, p)
		}
	}
	return msg
}
