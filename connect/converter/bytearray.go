package converter

import (
	"fmt"

	"github.com/gregor-streaming/gregor/connect"
)

// ByteArrayConverter passes bytes through unchanged (Kafka's
// org.apache.kafka.connect.converters.ByteArrayConverter): it writes BYTES
// values (or schemaless []byte) and reads an optional BYTES value.
type ByteArrayConverter struct{}

var byteArrayConfigDef = connect.NewConfigDef().Define(converterTypeKey())

// Config describes ByteArrayConverter's (empty) configuration.
func (ByteArrayConverter) Config() *connect.ConfigDef { return byteArrayConfigDef }

// Configure accepts any configuration.
func (ByteArrayConverter) Configure(map[string]string, bool) error { return nil }

// FromConnectData returns value, which must be []byte (or nil).
func (ByteArrayConverter) FromConnectData(topic string, schema *connect.Schema, value any) ([]byte, error) {
	if schema != nil && schema.Type != connect.TypeBytes {
		return nil, fmt.Errorf("%w: Invalid schema type for ByteArrayConverter: %v", connect.ErrData, schema.Type)
	}
	if value == nil {
		return nil, nil
	}
	b, ok := value.([]byte)
	if !ok {
		return nil, fmt.Errorf("%w: ByteArrayConverter is not compatible with objects of type %T", connect.ErrData, value)
	}
	return b, nil
}

// ToConnectData returns data with an optional BYTES schema.
func (ByteArrayConverter) ToConnectData(topic string, data []byte) (connect.SchemaAndValue, error) {
	return connect.SchemaAndValue{Schema: connect.OptionalBytesSchema, Value: data}, nil
}
