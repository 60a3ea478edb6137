package transform

import (
	"errors"
	"maps"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// newT configures the transformation registered under class.
func newT(t *testing.T, class string, props map[string]string) Transformation {
	t.Helper()
	tr, err := NewTransformation(class)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Configure(props); err != nil {
		t.Fatalf("configure %s: %v", class, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func apply(t *testing.T, tr Transformation, r *Record) *Record {
	t.Helper()
	out, err := tr.Apply(r)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return out
}

var ts = time.UnixMilli(1700000000123).UTC()

func sinkRecord(keySchema *connect.Schema, key any, valueSchema *connect.Schema, value any) *Record {
	return &Record{Record: connect.Record{Topic: "test", KafkaPartition: connect.Partition(0),
		KeySchema: keySchema, Key: key, ValueSchema: valueSchema, Value: value, Timestamp: ts}, Sink: true, KafkaOffset: 42}
}

func sourceRecord(valueSchema *connect.Schema, value any) *Record {
	return &Record{Record: connect.Record{Topic: "test", ValueSchema: valueSchema, Value: value, Timestamp: ts}}
}

func wantMap(t *testing.T, got any, want map[string]any) {
	t.Helper()
	if !connect.ValuesEqual(got, want) {
		t.Fatalf("got %s, want %s", connect.FormatValue(got), connect.FormatValue(want))
	}
}

// Kafka's InsertFieldTest: schemaless and struct values, optional and
// required fields, offsets of sink records only, tombstones unchanged.
func TestInsertField(t *testing.T) {
	props := map[string]string{
		"topic.field": "topic_field!", "partition.field": "partition_field", "offset.field": "offset_field!",
		"timestamp.field": "timestamp_field?", "static.field": "instance_id", "static.value": "my-instance-id",
	}
	tr := newT(t, "org.apache.kafka.connect.transforms.InsertField$Value", props)

	out := apply(t, tr, sinkRecord(nil, nil, nil, map[string]any{"magic": int64(42)}))
	wantMap(t, out.Value, map[string]any{"magic": int64(42), "topic_field": "test", "partition_field": int32(0),
		"offset_field": int64(42), "timestamp_field": ts.UnixMilli(), "instance_id": "my-instance-id"})

	simple := connect.StructBuilder().Name("name").Version(1).Doc("doc").Field("magic", connect.OptionalInt64Schema).MustBuild()
	in := sinkRecord(nil, nil, simple, connect.NewStruct(simple).Put("magic", int64(42)))
	out = apply(t, tr, in)
	s := out.ValueSchema
	if s.Name != "name" || *s.Version != 1 || s.Doc != "doc" {
		t.Fatalf("schema basics not copied: %+v", s)
	}
	checks := []struct {
		field string
		want  *connect.Schema
	}{
		{"magic", connect.OptionalInt64Schema}, {"topic_field", connect.StringSchema}, {"partition_field", connect.OptionalInt32Schema},
		{"offset_field", connect.Int64Schema}, {"timestamp_field", connect.TimestampBuilder().Optional().MustBuild()},
		{"instance_id", connect.OptionalStringSchema},
	}
	for _, c := range checks {
		f := s.Field(c.field)
		if f == nil || !f.Schema.Equal(c.want) {
			t.Fatalf("field %s: %v, want %v", c.field, f, c.want)
		}
	}
	v := out.Value.(*connect.Struct)
	if v.Get("magic") != int64(42) || v.Get("topic_field") != "test" || v.Get("partition_field") != int32(0) ||
		v.Get("offset_field") != int64(42) || !v.Get("timestamp_field").(time.Time).Equal(ts) || v.Get("instance_id") != "my-instance-id" {
		t.Fatalf("struct %v", v)
	}
	if in.Value.(*connect.Struct).Schema() != simple {
		t.Fatal("input record modified")
	}
	// The schema is cached: the same input schema gives the same output.
	if again := apply(t, tr, in); again.ValueSchema != out.ValueSchema {
		t.Fatal("updated schema not cached")
	}

	// offset.field needs a sink record.
	if _, err := tr.Apply(sourceRecord(nil, map[string]any{})); !errors.Is(err, ErrNotSinkRecord) || !errors.Is(err, connect.ErrData) {
		t.Fatalf("source record with offset.field: %v", err)
	}
	// Tombstones pass through.
	tomb := sinkRecord(nil, nil, nil, nil)
	if got := apply(t, tr, tomb); got != tomb {
		t.Fatal("tombstone changed")
	}
	// A non-map without schema fails as Kafka's requireMap.
	_, err := tr.Apply(sinkRecord(nil, nil, nil, "x"))
	if err == nil || !strings.Contains(err.Error(), "Only Map objects supported in absence of schema for [field insertion], found: class java.lang.String") {
		t.Fatalf("got %v", err)
	}

	key := newT(t, "org.apache.kafka.connect.transforms.InsertField$Key", map[string]string{"topic.field": "t"})
	out = apply(t, key, sinkRecord(nil, map[string]any{"k": "v"}, nil, "value"))
	wantMap(t, out.Key, map[string]any{"k": "v", "t": "test"})
	if out.Value != "value" {
		t.Fatal("value changed by $Key")
	}

	tr2, _ := NewTransformation("org.apache.kafka.connect.transforms.InsertField$Value")
	if err := tr2.Configure(map[string]string{"static.field": "x"}); err == nil || !strings.Contains(err.Error(), "No value specified for static field: x") {
		t.Fatalf("static.field without static.value: %v", err)
	}
}

// Kafka's ReplaceFieldTest.
func TestReplaceField(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.ReplaceField$Value", map[string]string{
		"exclude": "dont", "renames": "abc:xyz,foo:bar"})
	out := apply(t, tr, sinkRecord(nil, nil, nil, map[string]any{"dont": "whatever", "abc": int32(42), "foo": true, "etc": "etc"}))
	wantMap(t, out.Value, map[string]any{"xyz": int32(42), "bar": true, "etc": "etc"})

	schema := connect.StructBuilder().Field("dont", connect.StringSchema).Field("abc", connect.Int32Schema).
		Field("foo", connect.BooleanSchema).Field("etc", connect.StringSchema).MustBuild()
	v := connect.NewStruct(schema).Put("dont", "whatever").Put("abc", int32(42)).Put("foo", true).Put("etc", "etc")
	out = apply(t, tr, sinkRecord(nil, nil, schema, v))
	got := out.Value.(*connect.Struct)
	if len(out.ValueSchema.Fields) != 3 || got.Get("xyz") != int32(42) || got.Get("bar") != true || got.Get("etc") != "etc" {
		t.Fatalf("got %v with %v", got, out.ValueSchema.Fields)
	}

	incl := newT(t, "org.apache.kafka.connect.transforms.ReplaceField$Value", map[string]string{"include": "abc,foo"})
	out = apply(t, incl, sinkRecord(nil, nil, nil, map[string]any{"dont": "x", "abc": int32(42), "foo": true}))
	wantMap(t, out.Value, map[string]any{"abc": int32(42), "foo": true})

	// The deprecated names still work, and lose to the new ones.
	old := newT(t, "org.apache.kafka.connect.transforms.ReplaceField$Value", map[string]string{"whitelist": "abc", "blacklist": "abc"})
	out = apply(t, old, sinkRecord(nil, nil, nil, map[string]any{"abc": int32(1), "foo": true}))
	wantMap(t, out.Value, map[string]any{})
	both := newT(t, "org.apache.kafka.connect.transforms.ReplaceField$Value", map[string]string{"whitelist": "abc", "include": "foo"})
	out = apply(t, both, sinkRecord(nil, nil, nil, map[string]any{"abc": int32(1), "foo": true}))
	wantMap(t, out.Value, map[string]any{"foo": true})

	bad, _ := NewTransformation("org.apache.kafka.connect.transforms.ReplaceField$Value")
	if err := bad.Configure(map[string]string{"renames": "a:b:c"}); err == nil || !strings.Contains(err.Error(), "Invalid rename mapping: a:b:c") {
		t.Fatalf("bad renames: %v", err)
	}
	// A null value passes.
	tomb := sinkRecord(nil, nil, schema, nil)
	if apply(t, tr, tomb) != tomb {
		t.Fatal("tombstone changed")
	}
}

// Kafka's MaskFieldTest.
func TestMaskField(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.MaskField$Value", map[string]string{
		"fields": "int8,int16,int32,int64,float32,float64,boolean,string,decimal,date,array,map,missing"})
	in := map[string]any{
		"magic": int32(42), "int8": int8(8), "int16": int16(16), "int32": int32(32), "int64": int64(64), "float32": float32(32),
		"float64": float64(64), "boolean": true, "string": "blabla", "decimal": big.NewRat(42, 1), "date": time.Now().UTC(),
		"array": []any{int32(1), int32(2)}, "map": map[string]any{"what": "what"},
	}
	out := apply(t, tr, sinkRecord(nil, nil, nil, in))
	wantMap(t, out.Value, map[string]any{
		"magic": int32(42), "int8": int8(0), "int16": int16(0), "int32": int32(0), "int64": int64(0), "float32": float32(0),
		"float64": float64(0), "boolean": false, "string": "", "decimal": new(big.Rat), "date": time.UnixMilli(0).UTC(),
		"array": []any{}, "map": map[string]any{}, "missing": nil,
	})

	schema := connect.StructBuilder().Field("magic", connect.Int32Schema).Field("secret", connect.StringSchema).
		Field("n", connect.Int64Schema).MustBuild()
	v := connect.NewStruct(schema).Put("magic", int32(42)).Put("secret", "pw").Put("n", int64(7))
	repl := newT(t, "org.apache.kafka.connect.transforms.MaskField$Value", map[string]string{"fields": "secret,n", "replacement": "123"})
	out = apply(t, repl, sinkRecord(nil, nil, schema, v))
	got := out.Value.(*connect.Struct)
	if got.Get("magic") != int32(42) || got.Get("secret") != "123" || got.Get("n") != int64(123) {
		t.Fatalf("got %v", got)
	}
	bad := newT(t, "org.apache.kafka.connect.transforms.MaskField$Value", map[string]string{"fields": "n", "replacement": "abc"})
	if _, err := bad.Apply(sinkRecord(nil, nil, schema, v)); err == nil || !strings.Contains(err.Error(), "Unable to convert abc (class java.lang.String) to number") {
		t.Fatalf("got %v", err)
	}
	if _, err := repl.Apply(sinkRecord(nil, nil, nil, map[string]any{"secret": true})); err == nil ||
		!strings.Contains(err.Error(), "Cannot mask value of type class java.lang.Boolean with custom replacement.") {
		t.Fatalf("got %v", err)
	}
	tr2, _ := NewTransformation("org.apache.kafka.connect.transforms.MaskField$Value")
	if err := tr2.Configure(map[string]string{}); err == nil || !strings.Contains(err.Error(), `Missing required configuration "fields"`) {
		t.Fatalf("got %v", err)
	}
	if err := tr2.Configure(map[string]string{"fields": ""}); err == nil || !strings.Contains(err.Error(), "Empty list") {
		t.Fatalf("got %v", err)
	}
}

// Kafka's ValueToKeyTest.
func TestValueToKey(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.ValueToKey", map[string]string{"fields": "a,b"})
	out := apply(t, tr, sinkRecord(nil, nil, nil, map[string]any{"a": int32(1), "b": int32(2), "c": int32(3)}))
	wantMap(t, out.Key, map[string]any{"a": int32(1), "b": int32(2)})
	if out.KeySchema != nil {
		t.Fatal("schemaless key got a schema")
	}

	schema := connect.StructBuilder().Field("a", connect.Int32Schema).Field("b", connect.Int32Schema).Field("c", connect.Int32Schema).MustBuild()
	v := connect.NewStruct(schema).Put("a", int32(1)).Put("b", int32(2)).Put("c", int32(3))
	out = apply(t, tr, sinkRecord(nil, nil, schema, v))
	wantSchema := connect.StructBuilder().Field("a", connect.Int32Schema).Field("b", connect.Int32Schema).MustBuild()
	if !out.KeySchema.Equal(wantSchema) {
		t.Fatalf("key schema %+v", out.KeySchema)
	}
	if !out.Key.(*connect.Struct).Equal(connect.NewStruct(wantSchema).Put("a", int32(1)).Put("b", int32(2))) {
		t.Fatalf("key %v", out.Key)
	}
	if out.Value != v {
		t.Fatal("value changed")
	}
	missing := newT(t, "org.apache.kafka.connect.transforms.ValueToKey", map[string]string{"fields": "not_exist"})
	if _, err := missing.Apply(sinkRecord(nil, nil, schema, v)); err == nil || !strings.Contains(err.Error(), "Field does not exist: not_exist") {
		t.Fatalf("got %v", err)
	}
}

// Kafka's ExtractFieldTest.
func TestExtractField(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.ExtractField$Key", map[string]string{"field": "magic"})
	out := apply(t, tr, sinkRecord(nil, map[string]any{"magic": int32(42)}, nil, nil))
	if out.Key != int32(42) || out.KeySchema != nil {
		t.Fatalf("got %v", out.Key)
	}
	// A null key gives a null field.
	if out = apply(t, tr, sinkRecord(nil, nil, nil, nil)); out.Key != nil {
		t.Fatalf("got %v", out.Key)
	}
	schema := connect.StructBuilder().Field("magic", connect.Int32Schema).MustBuild()
	out = apply(t, tr, sinkRecord(schema, connect.NewStruct(schema).Put("magic", int32(42)), nil, nil))
	if out.Key != int32(42) || out.KeySchema != connect.Int32Schema {
		t.Fatalf("got %v %v", out.Key, out.KeySchema)
	}
	out = apply(t, tr, sinkRecord(schema, nil, nil, nil))
	if out.Key != nil || out.KeySchema != connect.Int32Schema {
		t.Fatalf("null struct: %v %v", out.Key, out.KeySchema)
	}
	unknown := newT(t, "org.apache.kafka.connect.transforms.ExtractField$Key", map[string]string{"field": "nonexistent"})
	if _, err := unknown.Apply(sinkRecord(schema, connect.NewStruct(schema).Put("magic", int32(42)), nil, nil)); err == nil ||
		!strings.Contains(err.Error(), "Unknown field: nonexistent") {
		t.Fatalf("got %v", err)
	}
	val := newT(t, "org.apache.kafka.connect.transforms.ExtractField$Value", map[string]string{"field": "x"})
	if out = apply(t, val, sinkRecord(nil, nil, nil, map[string]any{"x": "y"})); out.Value != "y" {
		t.Fatalf("got %v", out.Value)
	}
}

// Kafka's HoistFieldTest.
func TestHoistField(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.HoistField$Key", map[string]string{"field": "magic"})
	out := apply(t, tr, sinkRecord(nil, int32(42), nil, nil))
	wantMap(t, out.Key, map[string]any{"magic": int32(42)})
	out = apply(t, tr, sinkRecord(connect.Int32Schema, int32(42), nil, nil))
	want := connect.StructBuilder().Field("magic", connect.Int32Schema).MustBuild()
	if !out.KeySchema.Equal(want) || out.Key.(*connect.Struct).Get("magic") != int32(42) {
		t.Fatalf("got %v %v", out.KeySchema, out.Key)
	}
}

// Kafka's CastTest.
func TestCast(t *testing.T) {
	whole := newT(t, "org.apache.kafka.connect.transforms.Cast$Value", map[string]string{"spec": "int8"})
	out := apply(t, whole, sinkRecord(nil, nil, connect.Int32Schema, int32(42)))
	if out.Value != int8(42) || out.ValueSchema.Type != connect.TypeInt8 {
		t.Fatalf("got %v %v", out.Value, out.ValueSchema)
	}
	for _, c := range []struct {
		spec string
		in   any
		want any
	}{
		{"int16", int32(42), int16(42)},
		{"int32", float64(42.9), int32(42)},
		{"int64", true, int64(1)},
		{"float32", int32(42), float32(42)},
		{"float64", "42.5", float64(42.5)},
		{"boolean", int32(42), true},
		{"boolean", int32(0), false},
		{"boolean", "TRUE", true},
		{"string", int32(42), "42"},
		{"string", float64(42), "42.0"},
		{"string", []byte("hi"), "aGk="},
		{"int8", int32(300), int8(44)},
	} {
		tr := newT(t, "org.apache.kafka.connect.transforms.Cast$Value", map[string]string{"spec": c.spec})
		got := apply(t, tr, sinkRecord(nil, nil, nil, c.in))
		if !connect.ValuesEqual(got.Value, c.want) {
			t.Errorf("cast %v (%T) to %s: got %v (%T), want %v", c.in, c.in, c.spec, got.Value, got.Value, c.want)
		}
	}

	fields := newT(t, "org.apache.kafka.connect.transforms.Cast$Value", map[string]string{"spec": "int8:int16,int32:string,ts:string,opt:int64"})
	schema := connect.StructBuilder().Field("int8", connect.Int8Schema).Field("int32", connect.Int32Schema).
		Field("ts", connect.TimestampSchema).Field("opt", connect.OptionalInt32Schema).Field("other", connect.StringSchema).MustBuild()
	v := connect.NewStruct(schema).Put("int8", int8(8)).Put("int32", int32(32)).Put("ts", time.UnixMilli(1000).UTC()).Put("other", "x")
	out = apply(t, fields, sinkRecord(nil, nil, schema, v))
	got := out.Value.(*connect.Struct)
	if got.Get("int8") != int16(8) || got.Get("int32") != "32" || got.Get("ts") != "00:00:01.000Z" || got.Get("opt") != nil || got.Get("other") != "x" {
		t.Fatalf("got %v", got)
	}
	if f := out.ValueSchema.Field("opt"); f.Schema.Type != connect.TypeInt64 || !f.Schema.Optional {
		t.Fatalf("opt schema %+v", f.Schema)
	}
	out = apply(t, fields, sinkRecord(nil, nil, nil, map[string]any{"int8": int8(8), "int32": int32(32), "x": "y"}))
	wantMap(t, out.Value, map[string]any{"int8": int16(8), "int32": "32", "ts": nil, "opt": nil, "x": "y"})

	for spec, msg := range map[string]string{
		"foo:faketype":  "Invalid type found in casting spec: faketype",
		"int8,int32":    "may ony specify a single cast",
		"a:bytes":       "Cast transformation does not support casting to/from BYTES",
		"a:int8:string": "Invalid rename mapping",
	} {
		tr, _ := NewTransformation("org.apache.kafka.connect.transforms.Cast$Value")
		if err := tr.Configure(map[string]string{"spec": spec}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("spec %q: %v, want %q", spec, err, msg)
		}
	}
	structIn := newT(t, "org.apache.kafka.connect.transforms.Cast$Value", map[string]string{"spec": "a:string"})
	nested := connect.StructBuilder().Field("a", schema).MustBuild()
	if _, err := structIn.Apply(sinkRecord(nil, nil, nested, connect.NewStruct(nested).Put("a", v))); err == nil ||
		!strings.Contains(err.Error(), "Cast transformation does not support casting to/from STRUCT") {
		t.Fatalf("got %v", err)
	}
}

// Kafka's TimestampRouterTest.
func TestTimestampRouter(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.TimestampRouter", nil)
	r := sourceRecord(nil, "v")
	r.Timestamp = time.UnixMilli(1483425001864).UTC()
	if got := apply(t, tr, r).Topic; got != "test-20170103" {
		t.Fatalf("got %s", got)
	}
	custom := newT(t, "org.apache.kafka.connect.transforms.TimestampRouter", map[string]string{
		"topic.format": "${timestamp}_${topic}", "timestamp.format": "yyyy-MM-dd'T'HH:mm:ss.SSS 'week' w EEE MMM"})
	if got := apply(t, custom, r).Topic; got != "2017-01-03T06:30:01.864 week 1 Tue Jan_test" {
		t.Fatalf("got %s", got)
	}
	r.Timestamp = time.Time{}
	if _, err := tr.Apply(r); err == nil || !strings.Contains(err.Error(), "Timestamp missing on record") {
		t.Fatalf("got %v", err)
	}
}

// Kafka's RegexRouterTest.
func TestRegexRouter(t *testing.T) {
	for _, c := range []struct{ regex, replacement, topic, want string }{
		{"(.*)", "prefix-$1", "orig", "prefix-orig"},
		{"(.*)", "$1-suffix", "orig", "orig-suffix"},
		{"(.*)", "\\$1-lit", "orig", "$1-lit"},
		{"(.*)-(.*)", "$2", "foo-bar", "bar"},
		{"(?P<name>.*)", "x-${name}", "orig", "x-orig"},
		{"orig", "changed", "orig2", "orig2"}, // no whole match: unchanged
		{"^\\w+$", "sink", "orig", "sink"},
	} {
		tr := newT(t, "org.apache.kafka.connect.transforms.RegexRouter", map[string]string{"regex": c.regex, "replacement": c.replacement})
		r := sourceRecord(nil, "v")
		r.Topic = c.topic
		if got := apply(t, tr, r).Topic; got != c.want {
			t.Errorf("%s → %s on %s: got %s, want %s", c.regex, c.replacement, c.topic, got, c.want)
		}
	}
	tr, _ := NewTransformation("RegexRouter")
	if err := tr.Configure(map[string]string{"regex": "(.*)", "replacement": "$2"}); err == nil || !strings.Contains(err.Error(), "No group 2") {
		t.Fatalf("got %v", err)
	}
	if err := tr.Configure(map[string]string{"regex": "(", "replacement": "x"}); err == nil || !strings.Contains(err.Error(), "Invalid regex") {
		t.Fatalf("got %v", err)
	}
}

func TestPredicates(t *testing.T) {
	p, err := NewPredicate("org.apache.kafka.connect.transforms.predicates.TopicNameMatches")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(map[string]string{"pattern": "te.*"}); err != nil {
		t.Fatal(err)
	}
	r := sourceRecord(nil, "v")
	if !p.Test(r) {
		t.Fatal("test should match te.*")
	}
	r.Topic = "atest"
	if p.Test(r) {
		t.Fatal("atest should not match te.* (whole name)")
	}
	if err := p.Configure(map[string]string{"pattern": ""}); err == nil || !strings.Contains(err.Error(), "String must be non-empty") {
		t.Fatalf("got %v", err)
	}

	h, _ := NewPredicate("HasHeaderKey")
	if err := h.Configure(map[string]string{"name": "hdr"}); err != nil {
		t.Fatal(err)
	}
	if h.Test(r) {
		t.Fatal("no headers")
	}
	r.Headers.AddString("hdr", "x")
	if !h.Test(r) {
		t.Fatal("header hdr present")
	}

	tomb, _ := NewPredicate("RecordIsTombstone")
	if tomb.Test(r) || !tomb.Test(sourceRecord(nil, nil)) {
		t.Fatal("RecordIsTombstone")
	}
}

// The chain: aliases in order, predicates, negate and Filter (KIP-585).
func TestChain(t *testing.T) {
	props := map[string]string{
		"transforms":                       "dropTomb, hoist, route",
		"transforms.dropTomb.type":         "org.apache.kafka.connect.transforms.Filter",
		"transforms.dropTomb.predicate":    "isTombstone",
		"transforms.hoist.type":            "org.apache.kafka.connect.transforms.HoistField$Value",
		"transforms.hoist.field":           "line",
		"transforms.route.type":            "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":           "(.*)",
		"transforms.route.replacement":     "$1-other",
		"transforms.route.predicate":       "isLogs",
		"transforms.route.negate":          "true",
		"predicates":                       "isTombstone,isLogs",
		"predicates.isTombstone.type":      "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
		"predicates.isLogs.type":           "TopicNameMatches",
		"predicates.isLogs.pattern":        "logs",
		"transforms.hoist.some.other.prop": "ignored",
	}
	c, err := NewChain(props)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Stages) != 3 || c.Stages[0].Alias != "dropTomb" || c.Stages[2].PredicateAlias != "isLogs" || !c.Stages[2].Negate {
		t.Fatalf("stages %+v", c.Stages)
	}
	if out, err := c.Apply(sourceRecord(nil, nil)); err != nil || out != nil {
		t.Fatalf("tombstone: %v %v", out, err)
	}
	out, err := c.Apply(sourceRecord(nil, "a"))
	if err != nil {
		t.Fatal(err)
	}
	wantMap(t, out.Value, map[string]any{"line": "a"})
	if out.Topic != "test-other" {
		t.Fatalf("topic %s", out.Topic)
	}
	logs := sourceRecord(nil, "a")
	logs.Topic = "logs"
	if out, _ = c.Apply(logs); out.Topic != "logs" {
		t.Fatalf("negated predicate: topic %s", out.Topic)
	}

	bad := maps.Clone(props)
	delete(bad, "transforms.route.predicate")
	if _, err := NewChain(bad); !errors.Is(err, connect.ErrConfig) || !strings.Contains(err.Error(), "Config 'transforms.route.negate' was provided but there is no config 'transforms.route.predicate' defining a predicate to be negated.") {
		t.Fatalf("negate without predicate: %v", err)
	}
	bad = maps.Clone(props)
	bad["transforms.hoist.type"] = "com.example.Nope"
	if _, err := NewChain(bad); !errors.Is(err, connect.ErrConfig) || !errors.Is(err, connect.ErrUnknownPlugin) || !strings.Contains(err.Error(), "Class com.example.Nope could not be found.") {
		t.Fatalf("unknown class: %v", err)
	}
	bad = maps.Clone(props)
	bad["predicates"] = "isTombstone"
	if _, err := NewChain(bad); !errors.Is(err, connect.ErrConfig) {
		t.Fatalf("undeclared predicate: %v", err)
	}
	if c, err := NewChain(map[string]string{}); err != nil || len(c.Stages) != 0 {
		t.Fatalf("empty chain: %v %v", c, err)
	}
}

func TestRegistered(t *testing.T) {
	for _, class := range []string{"InsertField$Key", "InsertField$Value", "ReplaceField$Key", "ReplaceField$Value",
		"MaskField$Key", "MaskField$Value", "ValueToKey", "ExtractField$Key", "ExtractField$Value", "HoistField$Key",
		"HoistField$Value", "Cast$Key", "Cast$Value", "TimestampRouter", "RegexRouter", "Filter"} {
		p, err := connect.LookupPlugin(classPrefix+class, connect.PluginTransformation)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.New().(Transformation); !ok {
			t.Fatalf("%s is not a Transformation", class)
		}
	}
	for _, class := range []string{"TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"} {
		if _, err := NewPredicate(predicateClassPrefix + class); err != nil {
			t.Fatal(err)
		}
	}
}
