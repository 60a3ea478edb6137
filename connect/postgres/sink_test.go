package postgres

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

type sinkContext struct {
	props   map[string]string
	timeout time.Duration
}

func (c *sinkContext) Configs() map[string]string           { return c.props }
func (c *sinkContext) Offset(connect.TopicPartition, int64) {}
func (c *sinkContext) Timeout(d time.Duration)              { c.timeout = d }
func (c *sinkContext) Assignment() []connect.TopicPartition { return nil }
func (c *sinkContext) Pause(...connect.TopicPartition)      {}
func (c *sinkContext) Resume(...connect.TopicPartition)     {}
func (c *sinkContext) RequestCommit()                       {}
func sinkProps(db *testDB, kv ...string) map[string]string {
	p := map[string]string{"name": "pg-sink", ConnectionURLConfig: db.url, ConnectionAttemptsConfig: "1", "topics": "orders"}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func startSink(t *testing.T, props map[string]string) (*SinkTask, *sinkContext) {
	t.Helper()
	c := &SinkConnector{}
	if err := c.Start(props); err != nil {
		t.Fatal(err)
	}
	configs, err := c.TaskConfigs(1)
	if err != nil {
		t.Fatal(err)
	}
	task := &SinkTask{}
	ctx := &sinkContext{props: configs[0]}
	task.Initialize(ctx)
	if err := task.Start(configs[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task, ctx
}

var offsetCounter atomic.Int64

// rec makes a sink record of topic "orders".
func rec(keySchema *connect.Schema, key any, valueSchema *connect.Schema, value any) *connect.SinkRecord {
	return &connect.SinkRecord{
		Record:        connect.Record{Topic: "orders", KafkaPartition: connect.Partition(0), KeySchema: keySchema, Key: key, ValueSchema: valueSchema, Value: value},
		KafkaOffset:   offsetCounter.Add(1),
		OriginalTopic: "orders",
	}
}

var (
	orderKey   = connect.StructBuilder().Name("OrderKey").Field("id", connect.Int32Schema).MustBuild()
	orderValue = connect.StructBuilder().Name("Order").
			Field("id", connect.Int32Schema).
			Field("item", connect.StringSchema).
			Field("price", connect.DecimalBuilder(2).Optional().MustBuild()).
			Field("placed", connect.TimestampBuilder().Optional().MustBuild()).
			Field("day", connect.DateBuilder().Optional().MustBuild()).
			Field("at", connect.TimeBuilder().Optional().MustBuild()).
			Field("paid", connect.BooleanBuilder().DefaultValue(false).MustBuild()).
			Field("note", connect.OptionalStringSchema).
			Field("blob", connect.OptionalBytesSchema).
			Field("qty", connect.OptionalInt8Schema).
			Field("weight", connect.OptionalFloat64Schema).
			MustBuild()
)

func order(id int32, item string) *connect.Struct {
	return connect.NewStruct(orderValue).Put("id", id).Put("item", item)
}

func key(id int32) *connect.Struct { return connect.NewStruct(orderKey).Put("id", id) }

// auto.create makes the table from the value schema, with Connect's
// types mapped to PostgreSQL's and the key as PRIMARY KEY; every type's
// value lands as written.
func TestSinkAutoCreateTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	task, _ := startSink(t, sinkProps(db, AutoCreateConfig, "true", PKModeConfig, PKModeRecordValue, PKFieldsConfig, "id"))
	placed := time.Date(2024, 2, 29, 13, 14, 15, 678000000, time.UTC)
	full := order(1, "book").Put("price", big.NewRat(1999, 100)).Put("placed", placed).
		Put("day", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)).Put("at", time.Date(1970, 1, 1, 8, 30, 0, 0, time.UTC)).
		Put("paid", true).Put("note", "it's").Put("blob", []byte{0, 1}).Put("qty", int8(3)).Put("weight", 0.5)
	if err := task.Put([]*connect.SinkRecord{rec(nil, nil, orderValue, full), rec(nil, nil, orderValue, order(2, "pen"))}); err != nil {
		t.Fatal(err)
	}
	cols := db.rows(`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position`)
	var got []string
	for _, c := range cols {
		got = append(got, fmt.Sprintf("%s %s %s", c[0], c[1], c[2]))
	}
	want := []string{"id integer NO", "item text NO", "price numeric YES", "placed timestamp without time zone YES", "day date YES",
		"at time without time zone YES", "paid boolean NO", "note text YES", "blob bytea YES", "qty smallint YES", "weight double precision YES"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns\n%v\nwant\n%v", got, want)
	}
	if pk := db.rows(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = 'orders'::regclass AND i.indisprimary`); len(pk) != 1 || pk[0][0] != "id" {
		t.Fatalf("primary key %v", pk)
	}
	rows := db.rows(`SELECT id, item, price::text, placed::text, day::text, at::text, paid, note, blob, qty, weight FROM orders ORDER BY id`)
	wantRows := [][]any{
		{int32(1), "book", "19.99", "2024-02-29 13:14:15.678", "2024-02-29", "08:30:00", true, "it's", []byte{0, 1}, int16(3), 0.5},
		{int32(2), "pen", nil, nil, nil, nil, false, nil, nil, nil, nil},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Fatalf("rows\n%v\nwant\n%v", rows, wantRows)
	}
}

// Upsert with the record key as primary key: a second write of a key
// updates the row; a tombstone deletes it; statements run in record
// order within a Put; a new optional field adds a column (auto.evolve);
// a new required field without default cannot.
func TestSinkUpsertDeleteEvolve(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	task, _ := startSink(t, sinkProps(db, AutoCreateConfig, "true", AutoEvolveConfig, "true", InsertModeConfig, "upsert",
		PKModeConfig, PKModeRecordKey, DeleteEnabledConfig, "true", BatchSizeConfig, "2"))
	put := func(recs ...*connect.SinkRecord) {
		t.Helper()
		if err := task.Put(recs); err != nil {
			t.Fatal(err)
		}
	}
	put(rec(orderKey, key(1), orderValue, order(1, "book")), rec(orderKey, key(2), orderValue, order(2, "pen")),
		rec(orderKey, key(3), orderValue, order(3, "ink")))
	put(rec(orderKey, key(1), orderValue, order(1, "big book")), rec(orderKey, key(2), nil, nil),
		// delete then re-insert, insert then delete: order matters
		rec(orderKey, key(3), nil, nil), rec(orderKey, key(3), orderValue, order(3, "new ink")),
		rec(orderKey, key(4), orderValue, order(4, "gone")), rec(orderKey, key(4), nil, nil),
		rec(orderKey, key(9), nil, nil)) // deleting what is not there is fine
	items := func() [][]any { return db.rows(`SELECT id, item FROM orders ORDER BY id`) }
	if got, want := items(), [][]any{{int32(1), "big book"}, {int32(3), "new ink"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}

	v2 := connect.StructBuilder().Name("Order").Field("id", connect.Int32Schema).Field("item", connect.StringSchema).
		Field("email", connect.OptionalStringSchema).Field("rank", connect.Int32Builder().DefaultValue(int32(7)).MustBuild()).MustBuild()
	put(rec(orderKey, key(5), v2, connect.NewStruct(v2).Put("id", int32(5)).Put("item", "x").Put("email", "a@b")))
	if got := db.rows(`SELECT id, item, email, rank FROM orders ORDER BY id`); !reflect.DeepEqual(got, [][]any{
		{int32(1), "big book", nil, int32(7)}, {int32(3), "new ink", nil, int32(7)}, {int32(5), "x", "a@b", int32(7)}}) {
		t.Fatalf("after evolve %v", got)
	}

	v3 := connect.StructBuilder().Name("Order").Field("id", connect.Int32Schema).Field("item", connect.StringSchema).
		Field("must", connect.StringSchema).MustBuild()
	err := task.Put([]*connect.SinkRecord{rec(orderKey, key(6), v3, connect.NewStruct(v3).Put("id", int32(6)).Put("item", "y").Put("must", "z"))})
	if !errors.Is(err, ErrTableMismatch) || !strings.Contains(err.Error(), "not optional") {
		t.Fatalf("required new field: %v", err)
	}
	if got := len(items()); got != 3 {
		t.Fatalf("%d rows after the failed Put", got)
	}
}

// A primitive key with one pk.fields name; kafka coordinates as the key;
// update mode changes existing rows only.
func TestSinkKeysAndUpdate(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	value := connect.StructBuilder().Field("item", connect.StringSchema).MustBuild()
	task, _ := startSink(t, sinkProps(db, AutoCreateConfig, "true", PKModeConfig, PKModeRecordKey, PKFieldsConfig, "sku",
		InsertModeConfig, "upsert", TableNameFormatConfig, "kv_${topic}"))
	v := func(s string) *connect.Struct { return connect.NewStruct(value).Put("item", s) }
	if err := task.Put([]*connect.SinkRecord{rec(connect.StringSchema, "A-1", value, v("one")), rec(connect.StringSchema, "A-1", value, v("uno"))}); err != nil {
		t.Fatal(err)
	}
	if got := db.rows(`SELECT sku, item FROM kv_orders`); !reflect.DeepEqual(got, [][]any{{"A-1", "uno"}}) {
		t.Fatalf("kv rows %v", got)
	}

	task2, _ := startSink(t, sinkProps(db, AutoCreateConfig, "true", PKModeConfig, PKModeKafka, TableNameFormatConfig, "log"))
	r := rec(nil, nil, value, v("logged"))
	if err := task2.Put([]*connect.SinkRecord{r}); err != nil {
		t.Fatal(err)
	}
	if got := db.rows(`SELECT __connect_topic, __connect_partition, __connect_offset, item FROM log`); !reflect.DeepEqual(got,
		[][]any{{"orders", int32(0), r.KafkaOffset, "logged"}}) {
		t.Fatalf("log rows %v", got)
	}

	task3, _ := startSink(t, sinkProps(db, PKModeConfig, PKModeRecordKey, PKFieldsConfig, "sku", InsertModeConfig, "update",
		TableNameFormatConfig, "kv_${topic}"))
	if err := task3.Put([]*connect.SinkRecord{rec(connect.StringSchema, "A-1", value, v("eins")), rec(connect.StringSchema, "B-2", value, v("zwei"))}); err != nil {
		t.Fatal(err)
	}
	if got := db.rows(`SELECT sku, item FROM kv_orders`); !reflect.DeepEqual(got, [][]any{{"A-1", "eins"}}) {
		t.Fatalf("update mode rows %v (update must not insert)", got)
	}
}

// Errors say what to do: records without schemas, missing tables,
// missing columns, bad combinations; a broken connection is retried.
func TestSinkErrors(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	task, _ := startSink(t, sinkProps(db, PKModeConfig, PKModeNone))
	err := task.Put([]*connect.SinkRecord{rec(nil, nil, nil, map[string]any{"id": int64(1)})})
	if !errors.Is(err, ErrRecord) || !strings.Contains(err.Error(), "schemas.enable=true") {
		t.Errorf("schemaless value: %v", err)
	}
	err = task.Put([]*connect.SinkRecord{rec(nil, nil, orderValue, order(1, "x"))})
	if !errors.Is(err, ErrTableMissing) || !strings.Contains(err.Error(), AutoCreateConfig) {
		t.Errorf("missing table: %v", err)
	}
	db.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`)
	err = task.Put([]*connect.SinkRecord{rec(nil, nil, orderValue, order(1, "x"))})
	if !errors.Is(err, ErrTableMismatch) || !strings.Contains(err.Error(), AutoEvolveConfig) || !strings.Contains(err.Error(), "price") {
		t.Errorf("missing columns: %v", err)
	}
	err = task.Put([]*connect.SinkRecord{rec(nil, nil, nil, nil)})
	if !errors.Is(err, ErrRecord) || !strings.Contains(err.Error(), "null value") {
		t.Errorf("tombstone with pk.mode=none: %v", err)
	}

	small := connect.StructBuilder().Field("id", connect.Int32Schema).Field("item", connect.StringSchema).MustBuild()
	task2, sctx := startSink(t, sinkProps(db, PKModeConfig, PKModeRecordValue, PKFieldsConfig, "id", InsertModeConfig, "upsert", RetryBackoffConfig, "5"))
	row := func(id int32) *connect.SinkRecord {
		return rec(nil, nil, small, connect.NewStruct(small).Put("id", id).Put("item", "i"))
	}
	if err := task2.Put([]*connect.SinkRecord{row(1)}); err != nil {
		t.Fatal(err)
	}
	var pid uint32
	if err := task2.conn.QueryRow(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	db.exec(`SELECT pg_terminate_backend($1)`, pid)
	err = task2.Put([]*connect.SinkRecord{row(2)})
	if !errors.Is(err, connect.ErrRetriable) || sctx.timeout != 5*time.Millisecond {
		t.Fatalf("broken connection: %v (timeout %v)", err, sctx.timeout)
	}
	if err := task2.Put([]*connect.SinkRecord{row(2)}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := db.rows(`SELECT id FROM orders ORDER BY id`); !reflect.DeepEqual(got, [][]any{{int32(1)}, {int32(2)}}) {
		t.Fatalf("rows %v", got)
	}

	task3, _ := startSink(t, sinkProps(db, PKModeConfig, PKModeRecordValue, PKFieldsConfig, "id"))
	if err := task3.Put([]*connect.SinkRecord{row(1)}); err == nil || !strings.Contains(err.Error(), "insert.mode=upsert") || errors.Is(err, connect.ErrRetriable) {
		t.Errorf("duplicate key in insert mode: %v", err)
	}

	c := &SinkConnector{}
	errsOf := func(kv ...string) map[string][]string {
		props := map[string]string{ConnectionURLConfig: "postgres://localhost/db"}
		for i := 0; i < len(kv); i += 2 {
			props[kv[i]] = kv[i+1]
		}
		out := map[string][]string{}
		for _, v := range c.Validate(props) {
			if len(v.Errors) > 0 {
				out[v.Name] = v.Errors
			}
		}
		return out
	}
	if e := errsOf(DeleteEnabledConfig, "true", PKModeConfig, PKModeRecordValue); len(e[DeleteEnabledConfig]) == 0 {
		t.Errorf("delete without record_key: %v", e)
	}
	if e := errsOf(InsertModeConfig, "upsert"); len(e[PKModeConfig]) == 0 {
		t.Errorf("upsert without pk: %v", e)
	}
	if e := errsOf(PKModeConfig, "sometimes"); len(e[PKModeConfig]) == 0 {
		t.Errorf("bad pk.mode: %v", e)
	}
	if e := errsOf(InsertModeConfig, "upsert", PKModeConfig, PKModeKafka); len(e) != 0 {
		t.Errorf("valid: %v", e)
	}
}

// db.timezone: timestamps are written to columns without a time zone as
// the wall clock of that zone, and read back to the same instant.
func TestTimezoneRoundTrip(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	value := connect.StructBuilder().Name("ev").Field("id", connect.Int32Schema).Field("at", connect.TimestampSchema).MustBuild()
	task, _ := startSink(t, sinkProps(db, AutoCreateConfig, "true", DBTimezoneConfig, "America/New_York", TableNameFormatConfig, "ev"))
	at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	if err := task.Put([]*connect.SinkRecord{rec(nil, nil, value, connect.NewStruct(value).Put("id", int32(1)).Put("at", at))}); err != nil {
		t.Fatal(err)
	}
	if got := db.rows(`SELECT at::text FROM ev`); got[0][0] != "2024-07-01 08:00:00" {
		t.Fatalf("stored %v, want New York's wall clock", got)
	}
	offsets := offsetStore{}
	src := startSource(t, sourceProps(db, ModeConfig, ModeBulk, TableWhitelistConfig, "ev", DBTimezoneConfig, "America/New_York"), 1, offsets)
	recs := pollUntil(t, src[0], offsets, atLeast(1))
	if got := field(recs[0], "at"); !connect.ValuesEqual(got, at) {
		t.Fatalf("read back %v, want %v", got, at)
	}
}

// fields.whitelist keeps only the listed value fields (and the key).
func TestSinkFieldsWhitelist(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	task, _ := startSink(t, sinkProps(db, AutoCreateConfig, "true", PKModeConfig, PKModeRecordValue, PKFieldsConfig, "id",
		FieldsWhitelistConfig, "item"))
	if err := task.Put([]*connect.SinkRecord{rec(nil, nil, orderValue, order(1, "book").Put("note", "dropped"))}); err != nil {
		t.Fatal(err)
	}
	cols := db.rows(`SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position`)
	if !reflect.DeepEqual(cols, [][]any{{"id"}, {"item"}}) {
		t.Fatalf("columns %v", cols)
	}
}

// The sample configurations in config/ validate without errors.
func TestSampleConfigs(t *testing.T) {
	for file, c := range map[string]connect.ConfigValidator{
		"../../config/connect-postgres-source.properties": &SourceConnector{},
		"../../config/connect-postgres-sink.properties":   &SinkConnector{},
		"../../config/connect-postgres-cdc.properties":    configValidator{cdcConfigDef, &CDCSourceConnector{}},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		props := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				props[strings.TrimSpace(k)] = strings.ReplaceAll(strings.TrimSpace(v), `\\`, `\`) // Java's escape
			}
		}
		for _, v := range c.Validate(props) {
			if len(v.Errors) > 0 {
				t.Errorf("%s: %s: %v", file, v.Name, v.Errors)
			}
		}
		want := any(c)
		if v, ok := c.(configValidator); ok {
			want = v.connector
		}
		if p, err := connect.LookupPlugin(props["connector.class"]); err != nil || reflect.TypeOf(p.New()) != reflect.TypeOf(want) {
			t.Errorf("%s: connector.class %s: %v", file, props["connector.class"], err)
		}
	}
}

// configValidator validates against a ConfigDef, for connectors that do
// not validate themselves.
type configValidator struct {
	def       *connect.ConfigDef
	connector any
}

func (v configValidator) Validate(props map[string]string) []connect.ConfigValue {
	return v.def.Validate(props)
}

// Strings go into columns of PostgreSQL's other types (jsonb, uuid,
// inet, enums) through their text form, so that what the source reads
// as STRING can be written back.
func TestSinkStringsIntoOtherTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TYPE mood AS ENUM ('sad', 'happy')`)
	db.exec(`CREATE TABLE orders (id int PRIMARY KEY, doc jsonb, u uuid, ip inet, m mood, tags text[])`)
	value := connect.StructBuilder().Field("id", connect.Int32Schema).Field("doc", connect.StringSchema).
		Field("u", connect.StringSchema).Field("ip", connect.StringSchema).Field("m", connect.StringSchema).
		Field("tags", connect.ArrayBuilder(connect.StringSchema).MustBuild()).MustBuild()
	task, _ := startSink(t, sinkProps(db, PKModeConfig, PKModeRecordValue, PKFieldsConfig, "id", InsertModeConfig, "upsert"))
	v := connect.NewStruct(value).Put("id", int32(1)).Put("doc", `{"a": [1, 2]}`).Put("u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").
		Put("ip", "10.0.0.1").Put("m", "happy").Put("tags", []any{"x", "y"})
	if err := task.Put([]*connect.SinkRecord{rec(nil, nil, value, v)}); err != nil {
		t.Fatal(err)
	}
	got := db.rows(`SELECT doc::text, u::text, ip::text, m::text, tags::text FROM orders`)
	want := [][]any{{`{"a": [1, 2]}`, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "10.0.0.1/32", "happy", "{x,y}"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
}
