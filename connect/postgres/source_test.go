package postgres

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

func sourceProps(db *testDB, extra ...string) map[string]string {
	p := map[string]string{
		"name":                   "pg-source",
		ConnectionURLConfig:      db.jdbc,
		TopicPrefixConfig:        "pg-",
		PollIntervalConfig:       "20",
		ConnectionAttemptsConfig: "1",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// Every supported PostgreSQL type maps to its Connect schema and value;
// nullable columns are optional fields; records have no key; bulk mode
// stores no offsets.
func TestSourceTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TABLE types (
		id serial PRIMARY KEY, i2 int2 NOT NULL, i4 int4, i8 int8, f4 float4, f8 float8,
		n numeric(10,2), nfree numeric, t text, v varchar(10), c char(3), b bool, by bytea,
		d date, tm time, ts timestamp, tstz timestamptz, j json, jb jsonb, u uuid, e text[])`)
	db.exec(`INSERT INTO types (i2, i4, i8, f4, f8, n, nfree, t, v, c, b, by, d, tm, ts, tstz, j, jb, u, e) VALUES
		(7, -8, 9000000000, 1.5, 2.25, 12345678.91, 3.14159, 'text', 'vc', 'ab', true, '\x0102ff',
		 '2024-02-29', '13:14:15.678', '2024-02-29 13:14:15.678901', '2024-02-29 13:14:15.678+02',
		 '{"a": 1}', '{"b": 2}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{x,y}')`)
	db.exec(`INSERT INTO types (i2) VALUES (1)`)
	offsets := offsetStore{}
	tasks := startSource(t, sourceProps(db, ModeConfig, ModeBulk, TableWhitelistConfig, "types"), 1, offsets)
	recs := pollUntil(t, tasks[0], offsets, atLeast(2))
	r := recs[0]
	if r.Topic != "pg-types" || r.Key != nil || r.KeySchema != nil || r.SourcePartition != nil {
		t.Fatalf("record: topic %q key %v/%v partition %v", r.Topic, r.Key, r.KeySchema, r.SourcePartition)
	}
	s := r.ValueSchema
	if s.Type != connect.TypeStruct || s.Name != "types" {
		t.Fatalf("schema %v", s)
	}
	wantTypes := map[string]string{
		"id": "INT32", "i2": "INT16", "i4": "INT32?", "i8": "INT64?", "f4": "FLOAT32?", "f8": "FLOAT64?",
		"n": "BYTES?" + connect.DecimalLogicalName, "nfree": "BYTES?" + connect.DecimalLogicalName,
		"t": "STRING?", "v": "STRING?", "c": "STRING?", "b": "BOOLEAN?", "by": "BYTES?",
		"d": "INT32?" + connect.DateLogicalName, "tm": "INT32?" + connect.TimeLogicalName,
		"ts": "INT64?" + connect.TimestampLogicalName, "tstz": "INT64?" + connect.TimestampLogicalName,
		"j": "STRING?", "jb": "STRING?", "u": "STRING?", "e": "STRING?",
	}
	for _, f := range s.Fields {
		got := f.Schema.Type.String()
		if f.Schema.Optional {
			got += "?"
		}
		got += f.Schema.Name
		if got != wantTypes[f.Name] {
			t.Errorf("field %s: schema %s, want %s", f.Name, got, wantTypes[f.Name])
		}
	}
	if len(s.Fields) != len(wantTypes) {
		t.Errorf("%d fields, want %d", len(s.Fields), len(wantTypes))
	}
	if scale := s.Field("n").Schema.Parameters["scale"]; scale != "2" {
		t.Errorf("n scale %s", scale)
	}
	if scale := s.Field("nfree").Schema.Parameters["scale"]; scale != "127" {
		t.Errorf("nfree scale %s (Confluent gives unconstrained numerics scale 127)", scale)
	}
	ts := time.Date(2024, 2, 29, 13, 14, 15, 678901000, time.UTC)
	want := map[string]any{
		"id": int32(1), "i2": int16(7), "i4": int32(-8), "i8": int64(9000000000), "f4": float32(1.5), "f8": 2.25,
		"n": big.NewRat(1234567891, 100), "nfree": big.NewRat(314159, 100000), "t": "text", "v": "vc", "c": "ab ",
		"b": true, "by": []byte{1, 2, 0xff}, "d": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"tm": time.Date(1970, 1, 1, 13, 14, 15, 678000000, time.UTC), "ts": ts,
		"tstz": time.Date(2024, 2, 29, 11, 14, 15, 678000000, time.UTC),
		"j":    `{"a": 1}`, "jb": `{"b": 2}`, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "e": "{x,y}",
	}
	for name, w := range want {
		if got := field(r, name); !connect.ValuesEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	if err := connect.Validate(s, r.Value); err != nil {
		t.Fatal(err)
	}
	// The second row's nullable columns are null.
	if got := field(recs[1], "i4"); got != nil {
		t.Errorf("null i4 read as %v", got)
	}
}

// Incrementing mode finds the serial column itself, reads new rows only,
// and stores Confluent's offsets under Confluent's partition.
func TestSourceIncrementing(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TABLE events (id bigserial PRIMARY KEY, what text NOT NULL)`)
	db.exec(`INSERT INTO events (what) VALUES ('a'), ('b'), ('c')`)
	offsets := offsetStore{}
	tasks := startSource(t, sourceProps(db, ModeConfig, ModeIncrementing, BatchMaxRowsConfig, "2"), 1, offsets)
	recs := pollUntil(t, tasks[0], offsets, atLeast(3))
	if got := whats(recs); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("first rows %v", got)
	}
	var dbname string
	if rows := db.rows("SELECT current_database()"); len(rows) == 1 {
		dbname = rows[0][0].(string)
	}
	wantPartition := map[string]any{"protocol": "1", "table": dbname + ".public.events"}
	if !reflect.DeepEqual(recs[2].SourcePartition, wantPartition) || !reflect.DeepEqual(recs[2].SourceOffset, map[string]any{"incrementing": int64(3)}) {
		t.Fatalf("partition %v offset %v", recs[2].SourcePartition, recs[2].SourceOffset)
	}
	db.exec(`INSERT INTO events (what) VALUES ('d'), ('e')`)
	db.exec(`UPDATE events SET what = 'A' WHERE id = 1`) // not seen in incrementing mode
	recs = pollUntil(t, tasks[0], offsets, untilValue("what", "e"))
	if got := whats(recs); !reflect.DeepEqual(got, []string{"d", "e"}) {
		t.Fatalf("new rows %v, want [d e]", got)
	}
}

func whats(recs []*connect.SourceRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, field(r, "what").(string))
	}
	return out
}

// timestamp+incrementing mode sees inserts and updates, in timestamp
// order; a restarted task resumes from the stored offsets without losing
// or repeating a row, also when it stopped in the middle of a query's
// rows.
func TestSourceTimestampIncrementingRestart(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TABLE items (id serial PRIMARY KEY, what text NOT NULL, updated timestamptz NOT NULL DEFAULT clock_timestamp())`)
	for i := 1; i <= 5; i++ {
		db.exec(`INSERT INTO items (what) VALUES ($1)`, fmt.Sprint("v", i))
	}
	props := sourceProps(db, ModeConfig, ModeTimestampIncrementing, IncrementingColumnNameConfig, "id",
		TimestampColumnNameConfig, "updated", BatchMaxRowsConfig, "2", TableIncludeListConfig, "items")
	offsets := offsetStore{}
	task := startSource(t, props, 1, offsets)[0]
	first := pollUntil(t, task, offsets, atLeast(1)) // one batch of two rows
	if got := whats(first); !reflect.DeepEqual(got, []string{"v1", "v2"}) {
		t.Fatalf("first batch %v", got)
	}
	off := first[1].SourceOffset
	if off["incrementing"] != int64(2) || off["timestamp"] == nil || off["timestamp_nanos"] == nil {
		t.Fatalf("offset %v", off)
	}
	task.Stop()

	db.exec(`UPDATE items SET what = 'v1-updated', updated = clock_timestamp() WHERE id = 1`)
	db.exec(`INSERT INTO items (what) VALUES ('v6')`)
	db.exec(`UPDATE items SET what = 'v3-updated', updated = clock_timestamp() WHERE id = 3`)
	task = startSource(t, props, 1, offsets)[0]
	rest := pollUntil(t, task, offsets, untilValue("what", "v3-updated"))
	// v3 changed before the new task read it: its current state comes,
	// in timestamp order, after the rows the first task had not read.
	want := []string{"v4", "v5", "v1-updated", "v6", "v3-updated"}
	if got := whats(rest); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart %v, want %v", got, want)
	}
}

// timestamp mode with two timestamp columns (COALESCE) sees updates;
// timestamp.initial=-1 skips rows older than the start.
func TestSourceTimestamp(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TABLE docs (id int PRIMARY KEY, what text NOT NULL, modified timestamp, created timestamp NOT NULL DEFAULT localtimestamp)`)
	db.exec(`INSERT INTO docs (id, what, created) VALUES (1, 'old', '2001-01-01')`)
	offsets := offsetStore{}
	props := sourceProps(db, ModeConfig, ModeTimestamp, TimestampColumnNameConfig, "modified,created")
	task := startSource(t, props, 1, offsets)[0]
	recs := pollUntil(t, task, offsets, atLeast(1))
	if got := whats(recs); !reflect.DeepEqual(got, []string{"old"}) {
		t.Fatalf("rows %v", got)
	}
	db.exec(`INSERT INTO docs (id, what) VALUES (2, 'new')`)
	db.exec(`UPDATE docs SET what = 'old-modified', modified = localtimestamp WHERE id = 1`)
	recs = pollUntil(t, task, offsets, untilValue("what", "old-modified"))
	if got := whats(recs); !reflect.DeepEqual(got, []string{"new", "old-modified"}) {
		t.Fatalf("rows %v", got)
	}

	db.exec(`CREATE TABLE later (id int PRIMARY KEY, what text NOT NULL, ts timestamptz NOT NULL DEFAULT clock_timestamp())`)
	db.exec(`INSERT INTO later (id, what) VALUES (1, 'before start')`)
	initial := sourceProps(db, ModeConfig, ModeTimestamp, TimestampColumnNameConfig, "ts", TimestampInitialConfig, "-1",
		TableWhitelistConfig, "later")
	task = startSource(t, initial, 1, offsetStore{})[0]
	db.exec(`INSERT INTO later (id, what) VALUES (2, 'after start')`)
	recs = pollUntil(t, task, offsets, untilValue("what", "after start"))
	if got := whats(recs); !reflect.DeepEqual(got, []string{"after start"}) {
		t.Fatalf("rows %v, want only the row after the start", got)
	}
}

// tasks.max splits the tables; each task reads its own; a query runs in
// one task and goes to topic.prefix.
func TestSourceTasksAndQuery(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, name := range []string{"a", "b", "c"} {
		db.exec(fmt.Sprintf(`CREATE TABLE %s (id serial PRIMARY KEY, what text NOT NULL)`, name))
		db.exec(fmt.Sprintf(`INSERT INTO %s (what) VALUES ('%s1')`, name, name))
	}
	offsets := offsetStore{}
	tasks := startSource(t, sourceProps(db, ModeConfig, ModeIncrementing, TableBlacklistConfig, "public.c"), 3, offsets)
	if len(tasks) != 2 {
		t.Fatalf("%d tasks for 2 tables", len(tasks))
	}
	for i, name := range []string{"a", "b"} {
		recs := pollUntil(t, tasks[i], offsets, atLeast(1))
		if recs[0].Topic != "pg-"+name || field(recs[0], "what") != name+"1" {
			t.Fatalf("task %d: %s %v", i, recs[0].Topic, recs[0].Value)
		}
	}

	q := sourceProps(db, ModeConfig, ModeIncrementing, IncrementingColumnNameConfig, "id", TopicPrefixConfig, "joined",
		QueryConfig, `SELECT a.id, a.what, b.what AS other FROM a JOIN b ON a.id = b.id`)
	task := startSource(t, q, 4, offsetStore{})[0]
	recs := pollUntil(t, task, offsets, atLeast(1))
	r := recs[0]
	if r.Topic != "joined" || field(r, "other") != "b1" || !reflect.DeepEqual(r.SourcePartition, map[string]any{"query": "query"}) {
		t.Fatalf("query record %s %v %v", r.Topic, r.Value, r.SourcePartition)
	}
}

// Configuration errors name the key to fix; connection, missing-table
// and permission errors say what to do.
func TestSourceErrors(t *testing.T) {
	t.Parallel()
	c := &SourceConnector{}
	errsOf := func(props map[string]string) map[string][]string {
		out := map[string][]string{}
		for _, v := range c.Validate(props) {
			if len(v.Errors) > 0 {
				out[v.Name] = v.Errors
			}
		}
		return out
	}
	if e := errsOf(map[string]string{TopicPrefixConfig: "x", ModeConfig: ModeBulk}); len(e[ConnectionURLConfig]) == 0 {
		t.Errorf("missing connection.url: %v", e)
	}
	base := map[string]string{ConnectionURLConfig: "jdbc:postgresql://localhost/db", TopicPrefixConfig: "x"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	if e := errsOf(with(ModeConfig, "sometimes")); len(e[ModeConfig]) == 0 {
		t.Errorf("bad mode: %v", e)
	}
	if e := errsOf(with()); len(e[ModeConfig]) == 0 {
		t.Errorf("no mode: %v", e)
	}
	if e := errsOf(with(ModeConfig, ModeTimestamp)); len(e[TimestampColumnNameConfig]) == 0 {
		t.Errorf("timestamp without column: %v", e)
	}
	if e := errsOf(with(ModeConfig, ModeTimestampIncrementing, TimestampColumnNameConfig, "ts")); len(e[IncrementingColumnNameConfig]) == 0 {
		t.Errorf("timestamp+incrementing without incrementing column: %v", e)
	}
	if e := errsOf(with(ModeConfig, ModeBulk, ConnectionURLConfig, "jdbc:mysql://localhost/db")); len(e[ConnectionURLConfig]) == 0 ||
		!strings.Contains(e[ConnectionURLConfig][0], "PostgreSQL") {
		t.Errorf("mysql url: %v", e)
	}
	if e := errsOf(with(ModeConfig, ModeBulk)); len(e) != 0 {
		t.Errorf("valid configuration has errors: %v", e)
	}

	err := (&SourceConnector{}).Start(with(ModeConfig, ModeBulk, ConnectionURLConfig, "jdbc:postgresql://127.0.0.1:1/db", ConnectionAttemptsConfig, "1"))
	if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), "is the server running") {
		t.Errorf("unreachable server: %v", err)
	}

	db := newDB(t)
	err = (&SourceConnector{}).Start(sourceProps(db, ModeConfig, ModeBulk, TableWhitelistConfig, "nosuch"))
	if !errors.Is(err, ErrTableMissing) || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("missing table: %v", err)
	}

	db.exec(`CREATE TABLE secret (id int PRIMARY KEY)`)
	db.exec(`INSERT INTO secret VALUES (1)`)
	db.exec(`DROP ROLE IF EXISTS nobody_reader`)
	db.exec(`CREATE ROLE nobody_reader LOGIN`)
	t.Cleanup(func() { db.exec(`DROP OWNED BY nobody_reader`) })
	props := sourceProps(db, ModeConfig, ModeBulk, TableWhitelistConfig, "secret", ConnectionUserConfig, "nobody_reader")
	tasks := startSource(t, props, 1, offsetStore{})
	_, err = tasks[0].Poll(t.Context())
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "GRANT SELECT") {
		t.Errorf("permission denied: %v", err)
	}

	db.exec(`CREATE TABLE nullable (id int, what text)`)
	err = startSourceErr(sourceProps(db, ModeConfig, ModeIncrementing, IncrementingColumnNameConfig, "id", TableWhitelistConfig, "nullable"))
	if !errors.Is(err, connect.ErrConfig) || !strings.Contains(err.Error(), "nullable") {
		t.Errorf("nullable incrementing column: %v", err)
	}
	err = startSourceErr(sourceProps(db, ModeConfig, ModeIncrementing, TableWhitelistConfig, "nullable"))
	if !errors.Is(err, connect.ErrConfig) || !strings.Contains(err.Error(), IncrementingColumnNameConfig) {
		t.Errorf("no serial column: %v", err)
	}
}

// startSourceErr starts the connector and its first task, returning the
// first error.
func startSourceErr(props map[string]string) error {
	c := &SourceConnector{}
	if err := c.Start(props); err != nil {
		return err
	}
	defer c.Stop()
	configs, err := c.TaskConfigs(1)
	if err != nil {
		return err
	}
	task := &SourceTask{}
	task.Initialize(&sourceContext{props: configs[0], offsets: offsetStore{}})
	err = task.Start(configs[0])
	task.Stop()
	return err
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "jdbc:postgresql://db.example:5433/shop?user=u&password=p&currentSchema=s", want: "postgres://db.example:5433/shop?password=p&search_path=s&user=u"},
		{in: "jdbc:postgresql://localhost/shop?ssl=true&loggerLevel=DEBUG", want: "postgres://localhost/shop?sslmode=require"},
		{in: "jdbc:postgresql:shop", want: "postgres://localhost/shop"},
		{in: "postgres://u:p@h:1/d?sslmode=disable", want: "postgres://u:p@h:1/d?sslmode=disable"},
		{in: "jdbc:mysql://h/d", err: "mysql URL"},
		{in: "http://h/d", err: "use jdbc:postgresql://"},
	} {
		got, err := parseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrURL) {
				t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if r := redactURL("jdbc:postgresql://h/d?user=u&password=secret"); strings.Contains(r, "secret") {
		t.Errorf("redacted %s", r)
	}
}

// numeric.mapping follows Confluent's rules.
func TestNumericMapping(t *testing.T) {
	typmod := func(p, s int) int32 { return int32(p<<16|s) + 4 }
	for _, tc := range []struct {
		typmod  int32
		mapping string
		want    string
	}{
		{typmod(10, 2), NumericMappingNone, "BYTES/2"},
		{-1, NumericMappingNone, "BYTES/127"},
		{typmod(5, 0), NumericMappingPrecisionOnly, "INT32"},
		{typmod(2, 0), NumericMappingPrecisionOnly, "INT8"},
		{typmod(4, 0), NumericMappingBestFit, "INT16"},
		{typmod(18, 0), NumericMappingBestFit, "INT64"},
		{typmod(19, 0), NumericMappingBestFit, "BYTES/0"},
		{typmod(10, 2), NumericMappingPrecisionOnly, "BYTES/2"},
		{typmod(10, 2), NumericMappingBestFit, "FLOAT64"},
		{typmod(30, 2), NumericMappingBestFit, "BYTES/2"},
		{typmod(30, 2), NumericMappingBestFitEagerDouble, "FLOAT64"},
		{-1, NumericMappingBestFit, "FLOAT64"},
	} {
		s := numericSchema(tc.typmod, tc.mapping).MustBuild()
		got := s.Type.String()
		if s.Name == connect.DecimalLogicalName {
			got += "/" + s.Parameters["scale"]
		}
		if got != tc.want {
			t.Errorf("typmod %d %s: %s, want %s", tc.typmod, tc.mapping, got, tc.want)
		}
	}
}

func TestGroupPartitions(t *testing.T) {
	got := groupPartitions([]int{1, 2, 3, 4, 5}, 3)
	if !reflect.DeepEqual(got, [][]int{{1, 2}, {3, 4}, {5}}) {
		t.Fatalf("%v", got)
	}
	if got := groupPartitions([]int{1}, 4); !reflect.DeepEqual(got, [][]int{{1}}) {
		t.Fatalf("%v", got)
	}
}

// Offsets read back are the instant they were written from, for
// instants before and after the epoch.
func TestTimestampOffsetRoundTrip(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(2024, 2, 29, 13, 14, 15, 678901000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 123456000, time.UTC),
	} {
		m := map[string]any{}
		timestampOffset(ts, m)
		got := timestampFromOffset(m[TimestampField].(int64), m[TimestampNanosField].(int64))
		if !got.Equal(ts) {
			t.Errorf("%v came back as %v (offset %v)", ts, got, m)
		}
	}
}

type connectorContext struct{ reconfigure chan struct{} }

func (c *connectorContext) RequestTaskReconfiguration() {
	select {
	case c.reconfigure <- struct{}{}:
	default:
	}
}
func (c *connectorContext) RaiseError(error) {}

// The connector notices a new table (table.poll.interval.ms) and asks
// for new task configurations, which then include it.
func TestSourceTableMonitor(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TABLE first (id serial PRIMARY KEY)`)
	c := &SourceConnector{}
	cctx := &connectorContext{reconfigure: make(chan struct{}, 1)}
	c.Initialize(cctx)
	if err := c.Start(sourceProps(db, ModeConfig, ModeBulk, TablePollIntervalConfig, "20")); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	configs, _ := c.TaskConfigs(2)
	if len(configs) != 1 || configs[0][TablesConfig] != `[["public","first"]]` {
		t.Fatalf("task configs %v", configs)
	}
	db.exec(`CREATE TABLE second (id serial PRIMARY KEY)`)
	select {
	case <-cctx.reconfigure:
	case <-time.After(30 * time.Second):
		t.Fatal("no reconfiguration request for the new table")
	}
	configs, _ = c.TaskConfigs(2)
	if len(configs) != 2 || configs[1][TablesConfig] != `[["public","second"]]` {
		t.Fatalf("task configs after the new table %v", configs)
	}
}

// Offsets set through the REST API must have Confluent's shape.
func TestSourceAlterOffsets(t *testing.T) {
	c := &SourceConnector{}
	table := map[string]any{"protocol": "1", "table": "db.public.t"}
	for _, tc := range []struct {
		partition, offset map[string]any
		ok                bool
	}{
		{table, map[string]any{"incrementing": int64(5)}, true},
		{table, map[string]any{"timestamp": int64(1700000000000), "timestamp_nanos": int64(0)}, true},
		{table, nil, true},
		{map[string]any{"query": "query"}, map[string]any{"incrementing": int64(1)}, true},
		{table, map[string]any{"incrementing": "5"}, false},
		{table, map[string]any{"position": int64(5)}, false},
		{map[string]any{"file": "x"}, map[string]any{"incrementing": int64(1)}, false},
	} {
		_, err := c.AlterOffsets(nil, []map[string]any{tc.partition}, []map[string]any{tc.offset})
		if (err == nil) != tc.ok {
			t.Errorf("%v → %v: %v", tc.partition, tc.offset, err)
		}
	}
}

// The connectors answer to their class names, Kafka-style aliases and
// Confluent's JDBC class names.
func TestPluginNames(t *testing.T) {
	for name, want := range map[string]connect.PluginType{
		SourceConnectorClass: connect.PluginSource, "PostgresSource": connect.PluginSource, "PostgresSourceConnector": connect.PluginSource,
		SinkConnectorClass: connect.PluginSink, "PostgresSink": connect.PluginSink, "PostgresSinkConnector": connect.PluginSink,
		JdbcSourceConnectorClass: connect.PluginSource, "JdbcSourceConnector": connect.PluginSource,
		JdbcSinkConnectorClass: connect.PluginSink, "JdbcSink": connect.PluginSink,
	} {
		p, err := connect.LookupPlugin(name, connect.PluginSource, connect.PluginSink)
		if err != nil || p.Type != want {
			t.Errorf("%s: %v %v", name, p.Type, err)
			continue
		}
		switch c := p.New().(type) {
		case *SourceConnector, *SinkConnector:
		default:
			t.Errorf("%s makes a %T", name, c)
		}
	}
}
