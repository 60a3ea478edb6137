package transform

import (
	"fmt"
	"maps"
	"math/big"
	"sync"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// javaClass names a Go value's Java class, as Kafka's error messages
// name the class of what they found ("class java.lang.String"); "null"
// for nil.
func javaClass(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case int8:
		return "class java.lang.Byte"
	case int16:
		return "class java.lang.Short"
	case int32:
		return "class java.lang.Integer"
	case int64:
		return "class java.lang.Long"
	case float32:
		return "class java.lang.Float"
	case float64:
		return "class java.lang.Double"
	case bool:
		return "class java.lang.Boolean"
	case string:
		return "class java.lang.String"
	case []byte:
		return "class [B"
	case []any:
		return "class java.util.ArrayList"
	case map[string]any, map[any]any:
		return "class java.util.HashMap"
	case *connect.Struct:
		return "class org.apache.kafka.connect.data.Struct"
	case *big.Rat:
		return "class java.math.BigDecimal"
	case time.Time:
		return "class java.util.Date"
	}
	return fmt.Sprintf("%T", v)
}

// requireMap returns v as a schemaless map (Kafka's Requirements.requireMap).
func requireMap(v any, purpose string) (map[string]any, error) {
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	if m, ok := v.(map[any]any); ok {
		out := make(map[string]any, len(m))
		for k, e := range m {
			s, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%w: Only Map objects supported in absence of schema for [%s], found: %s", connect.ErrData, purpose, javaClass(v))
			}
			out[s] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: Only Map objects supported in absence of schema for [%s], found: %s", connect.ErrData, purpose, javaClass(v))
}

// requireMapOrNull is requireMap that lets nil through.
func requireMapOrNull(v any, purpose string) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	return requireMap(v, purpose)
}

// requireStruct returns v as a Struct (Kafka's Requirements.requireStruct).
func requireStruct(v any, purpose string) (*connect.Struct, error) {
	if s, ok := v.(*connect.Struct); ok && s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: Only Struct objects supported for [%s], found: %s", connect.ErrData, purpose, javaClass(v))
}

// requireStructOrNull is requireStruct that lets nil through.
func requireStructOrNull(v any, purpose string) (*connect.Struct, error) {
	if v == nil {
		return nil, nil
	}
	return requireStruct(v, purpose)
}

// requireSink fails for records not read from Kafka.
func requireSink(r *Record, purpose string) error {
	if r.Sink {
		return nil
	}
	return fmt.Errorf("%w: %w for [%s], found: org.apache.kafka.connect.source.SourceRecord", connect.ErrData, ErrNotSinkRecord, purpose)
}

// structBasics returns an empty STRUCT schema with source's name,
// version, doc and parameters (Kafka's SchemaUtil.copySchemaBasics onto
// SchemaBuilder.struct(): optionality and default are not copied).
func structBasics(source *connect.Schema) *connect.Schema {
	return &connect.Schema{Type: connect.TypeStruct, Name: source.Name, Version: source.Version, Doc: source.Doc, Parameters: maps.Clone(source.Parameters)}
}

// addField appends a field to a STRUCT schema being built.
func addField(s *connect.Schema, name string, fs *connect.Schema) {
	s.Fields = append(s.Fields, connect.Field{Name: name, Index: len(s.Fields), Schema: fs})
}

// schemaCache remembers the schema a transformation derived from an input
// schema (Kafka's SchemaUpdateCache: an LRU of 16). Lookups compare
// schemas by value, so converters that build a new *Schema per record
// still hit. Safe for concurrent use.
type schemaCache struct {
	mu      sync.Mutex
	entries []schemaCacheEntry // most recent last
}

type schemaCacheEntry struct{ in, out *connect.Schema }

const schemaCacheSize = 16

func (c *schemaCache) get(in *connect.Schema) *connect.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].in == in || c.entries[i].in.Equal(in) {
			e := c.entries[i]
			c.entries = append(append(c.entries[:i], c.entries[i+1:]...), e)
			return e.out
		}
	}
	return nil
}

func (c *schemaCache) put(in, out *connect.Schema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == schemaCacheSize {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, schemaCacheEntry{in, out})
}

// getOrBuild returns the cached schema derived from in, building it with
// build on a miss.
func (c *schemaCache) getOrBuild(in *connect.Schema, build func(*connect.Schema) (*connect.Schema, error)) (*connect.Schema, error) {
	if out := c.get(in); out != nil {
		return out, nil
	}
	out, err := build(in)
	if err != nil {
		return nil, err
	}
	c.put(in, out)
	return out, nil
}

// newStruct builds a Struct of schema from values by field name, failing
// as Kafka's Struct.put does for a value of the wrong type.
func newStruct(schema *connect.Schema, values map[string]any) (*connect.Struct, error) {
	s := connect.NewStruct(schema)
	for _, f := range schema.Fields {
		if v, ok := values[f.Name]; ok && v != nil {
			s.Put(f.Name, v)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// parseConfig parses props against def, as Kafka's SimpleConfig.
func parseConfig(def *connect.ConfigDef, props map[string]string) (*connect.ParsedConfig, error) {
	return def.Parse(props)
}

// nonEmptyList is Kafka's NonEmptyListValidator.
type nonEmptyList struct{}

func (nonEmptyList) EnsureValid(name string, v any) error {
	if l, _ := v.([]string); len(l) == 0 {
		return connect.ConfigError(name, v, "Empty list")
	}
	return nil
}

func (nonEmptyList) String() string { return "non-empty list" }

// schemaBuilderDuplicate is SchemaBuilder.field's error for a name used
// twice.
func schemaBuilderDuplicate(name string) error {
	return fmt.Errorf("%w: Cannot create field because of field name duplication %s", connect.ErrSchemaBuilder, name)
}
