package transform

import (
	"strings"

	"github.com/gregor-streaming/gregor/connect"
)

// InsertField$Key / InsertField$Value: insert the record's topic,
// partition, offset (sink records only), timestamp and a static string
// into a struct or map (Kafka's InsertField). A field name ending in "!"
// is required, one ending in "?" (or with no suffix) optional. A null key
// or value (a tombstone) passes unchanged.
const (
	insertTopicField     = "topic.field"
	insertPartitionField = "partition.field"
	insertOffsetField    = "offset.field"
	insertTimestampField = "timestamp.field"
	insertStaticField    = "static.field"
	insertStaticValue    = "static.value"
	insertPurpose        = "field insertion"
)

const insertSuffixDoc = " Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it optional (the default)."

var insertFieldDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: insertTopicField, Type: connect.ConfigString, Importance: connect.ImportanceMedium,
		Documentation: "Field name for Kafka topic." + insertSuffixDoc}).
	Define(connect.ConfigKey{Name: insertPartitionField, Type: connect.ConfigString, Importance: connect.ImportanceMedium,
		Documentation: "Field name for Kafka partition." + insertSuffixDoc}).
	Define(connect.ConfigKey{Name: insertOffsetField, Type: connect.ConfigString, Importance: connect.ImportanceMedium,
		Documentation: "Field name for Kafka offset - only applicable to sink connectors.<br/>" + insertSuffixDoc}).
	Define(connect.ConfigKey{Name: insertTimestampField, Type: connect.ConfigString, Importance: connect.ImportanceMedium,
		Documentation: "Field name for record timestamp." + insertSuffixDoc}).
	Define(connect.ConfigKey{Name: insertStaticField, Type: connect.ConfigString, Importance: connect.ImportanceMedium,
		Documentation: "Field name for static data field." + insertSuffixDoc}).
	Define(connect.ConfigKey{Name: insertStaticValue, Type: connect.ConfigString, Importance: connect.ImportanceMedium,
		Documentation: "Static field value, if field name configured."})

// insertionSpec is a field name with its optionality (Kafka's
// InsertField.InsertionSpec).
type insertionSpec struct {
	name     string
	optional bool
}

func parseInsertionSpec(s string) *insertionSpec {
	if s == "" {
		return nil
	}
	if n, ok := strings.CutSuffix(s, "?"); ok {
		return &insertionSpec{n, true}
	}
	if n, ok := strings.CutSuffix(s, "!"); ok {
		return &insertionSpec{n, false}
	}
	return &insertionSpec{s, true}
}

type insertField struct {
	part
	topic, partition, offset, timestamp, static *insertionSpec
	staticValue                                 string
	cache                                       schemaCache
}

func init() {
	registerKeyValue("InsertField", func(p part) Transformation { return &insertField{part: p} })
}

func (t *insertField) Config() *connect.ConfigDef { return insertFieldDef }

func (t *insertField) Configure(props map[string]string) error {
	c, err := parseConfig(insertFieldDef, props)
	if err != nil {
		return err
	}
	t.topic = parseInsertionSpec(c.GetString(insertTopicField))
	t.partition = parseInsertionSpec(c.GetString(insertPartitionField))
	t.offset = parseInsertionSpec(c.GetString(insertOffsetField))
	t.timestamp = parseInsertionSpec(c.GetString(insertTimestampField))
	t.static = parseInsertionSpec(c.GetString(insertStaticField))
	t.staticValue = c.GetString(insertStaticValue)
	if t.static != nil && c.Get(insertStaticValue) == nil {
		return connect.ConfigError(insertStaticValue, nil, "No value specified for static field: "+t.static.name)
	}
	return nil
}

func (t *insertField) Apply(r *Record) (*Record, error) {
	v := t.value(r)
	if v == nil {
		return r, nil
	}
	if t.schema(r) == nil {
		return t.applySchemaless(r, v)
	}
	return t.applyWithSchema(r, v)
}

func (t *insertField) applySchemaless(r *Record, v any) (*Record, error) {
	m, err := requireMap(v, insertPurpose)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m)+5)
	for k, e := range m {
		out[k] = e
	}
	if t.topic != nil {
		out[t.topic.name] = r.Topic
	}
	if t.partition != nil && r.KafkaPartition != nil {
		out[t.partition.name] = *r.KafkaPartition
	}
	if t.offset != nil {
		if err := requireSink(r, insertPurpose); err != nil {
			return nil, err
		}
		out[t.offset.name] = r.KafkaOffset
	}
	if t.timestamp != nil && !r.Timestamp.IsZero() {
		out[t.timestamp.name] = r.Timestamp.UnixMilli()
	}
	if t.static != nil {
		out[t.static.name] = t.staticValue
	}
	return t.with(r, nil, out), nil
}

func (t *insertField) applyWithSchema(r *Record, v any) (*Record, error) {
	s, err := requireStruct(v, insertPurpose)
	if err != nil {
		return nil, err
	}
	schema, err := t.cache.getOrBuild(s.Schema(), t.updatedSchema)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for _, f := range s.Schema().Fields {
		values[f.Name] = s.Get(f.Name)
	}
	if t.topic != nil {
		values[t.topic.name] = r.Topic
	}
	if t.partition != nil && r.KafkaPartition != nil {
		values[t.partition.name] = *r.KafkaPartition
	}
	if t.offset != nil {
		if err := requireSink(r, insertPurpose); err != nil {
			return nil, err
		}
		values[t.offset.name] = r.KafkaOffset
	}
	if t.timestamp != nil && !r.Timestamp.IsZero() {
		values[t.timestamp.name] = r.Timestamp.UTC()
	}
	if t.static != nil {
		values[t.static.name] = t.staticValue
	}
	out, err := newStruct(schema, values)
	if err != nil {
		return nil, err
	}
	return t.with(r, schema, out), nil
}

func (t *insertField) updatedSchema(in *connect.Schema) (*connect.Schema, error) {
	out := structBasics(in)
	for _, f := range in.Fields {
		addField(out, f.Name, f.Schema)
	}
	add := func(spec *insertionSpec, required, optional *connect.Schema) {
		if spec == nil {
			return
		}
		if spec.optional {
			addField(out, spec.name, optional)
		} else {
			addField(out, spec.name, required)
		}
	}
	add(t.topic, connect.StringSchema, connect.OptionalStringSchema)
	add(t.partition, connect.Int32Schema, connect.OptionalInt32Schema)
	add(t.offset, connect.Int64Schema, connect.OptionalInt64Schema)
	add(t.timestamp, connect.TimestampSchema, connect.TimestampBuilder().Optional().MustBuild())
	add(t.static, connect.StringSchema, connect.OptionalStringSchema)
	seen := map[string]bool{}
	for _, f := range out.Fields {
		if seen[f.Name] {
			return nil, schemaBuilderDuplicate(f.Name)
		}
		seen[f.Name] = true
	}
	return out, nil
}

func (t *insertField) Close() error { return nil }
