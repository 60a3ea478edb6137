package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/gregor-streaming/gregor/connect/postgres"
	worker "github.com/gregor-streaming/gregor/internal/connect"
	"github.com/gregor-streaming/gregor/internal/testpg"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// shared is the PostgreSQL server the tests share; each makes its own
// database.
var shared testpg.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// eventually polls cond until it holds, failing after a generous bound
// (a liveness guard, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends a JSON POST and returns the status and body.
func post(t *testing.T, url string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// taskStates returns the states of a connector and its tasks.
func states(t *testing.T, base, name string) []string {
	t.Helper()
	resp, err := http.Get(base + "/connectors/" + name + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Connector struct{ State, Trace string }
		Tasks     []struct{ State, Trace string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil
	}
	out := []string{st.Connector.State + st.Connector.Trace}
	for _, ts := range st.Tasks {
		out = append(out, ts.State+ts.Trace)
	}
	return out
}

func rows(t *testing.T, conn *pgx.Conn, sql string) [][]any {
	t.Helper()
	r, err := conn.Query(context.Background(), sql)
	if err != nil {
		return nil // the sink may not have created the table yet
	}
	out, err := pgx.CollectRows(r, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		return nil
	}
	return out
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// The acceptance test: a PostgreSQL table streams into a topic
// and out into another table through the REST API (POST /connectors for
// a JdbcSourceConnector and a PostgresSink against a running standalone
// worker). Inserts and updates follow; after a clean restart of the
// worker the source resumes from its stored offsets, so every change is
// in the topic exactly once.
func TestTableToTopicToTable(t *testing.T) {
	pg := shared.Get(t)
	url := pg.CreateDatabase(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec(t, conn, `CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, balance numeric(10,2),
		updated timestamptz NOT NULL DEFAULT clock_timestamp())`)
	exec(t, conn, `INSERT INTO customers (name, balance) VALUES ('ann', 10.50), ('bob', NULL), ('cy', 0)`)

	cluster := kafkatest.Start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
	dir := t.TempDir()
	props := map[string]string{
		worker.BootstrapServersConfig:    cluster.Addr(),
		worker.KeyConverterConfig:        "org.apache.kafka.connect.json.JsonConverter",
		worker.ValueConverterConfig:      "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "true",
		worker.OffsetStorageFileConfig:   filepath.Join(dir, "connect.offsets"),
		worker.OffsetFlushIntervalConfig: "100",
		worker.ListenersConfig:           "http://127.0.0.1:0",
	}
	db := url[len("postgres://postgres@"+pg.Addr()+"/") : len(url)-len("?sslmode=disable")]
	source := map[string]any{"name": "pg-source", "config": map[string]string{
		"connector.class":          "io.confluent.connect.jdbc.JdbcSourceConnector",
		"connection.url":           pg.JDBCURL(db),
		"connection.user":          "postgres",
		"mode":                     "timestamp+incrementing",
		"incrementing.column.name": "id",
		"timestamp.column.name":    "updated",
		"table.whitelist":          "customers",
		"topic.prefix":             "pg-",
		"poll.interval.ms":         "50",
	}}
	sink := map[string]any{"name": "pg-sink", "config": map[string]string{
		"connector.class":   "PostgresSink",
		"topics":            "pg-customers",
		"connection.url":    url,
		"table.name.format": "customers_copy",
		"auto.create":       "true",
		"insert.mode":       "upsert",
		"pk.mode":           "record_value",
		"pk.fields":         "id",
	}}
	start := func() (*worker.Standalone, string) {
		w, err := worker.StartStandalone(context.Background(), props, nil, worker.StandaloneOptions{})
		if err != nil {
			t.Fatal(err)
		}
		base := w.URL().String()
		for _, c := range []map[string]any{source, sink} {
			if code, body := post(t, base+"/connectors", c); code != http.StatusCreated {
				t.Fatalf("POST /connectors %s: %d %s", c["name"], code, body)
			}
		}
		for _, name := range []string{"pg-source", "pg-sink"} {
			eventually(t, name+" running", func() bool {
				return reflect.DeepEqual(states(t, base, name), []string{"RUNNING", "RUNNING"})
			})
		}
		return w, base
	}
	copied := func() bool {
		want := rows(t, conn, `SELECT id, name, balance::text FROM customers ORDER BY id`)
		got := rows(t, conn, `SELECT id, name, balance::text FROM customers_copy ORDER BY id`)
		return len(want) > 0 && reflect.DeepEqual(got, want)
	}

	w, base := start()
	eventually(t, "the table copied", copied)
	exec(t, conn, `INSERT INTO customers (name, balance) VALUES ('dee', 99.99)`)
	exec(t, conn, `UPDATE customers SET balance = 11.00, updated = clock_timestamp() WHERE name = 'ann'`)
	eventually(t, "the insert and the update copied", copied)
	if st := states(t, base, "pg-source"); !reflect.DeepEqual(st, []string{"RUNNING", "RUNNING"}) {
		t.Fatalf("source %v", st)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Changes made while the worker is down arrive after the restart,
	// and nothing that was already in the topic is sent again.
	exec(t, conn, `INSERT INTO customers (name) VALUES ('eve')`)
	exec(t, conn, `DELETE FROM customers_copy WHERE name = 'bob'`) // the sink must not get bob again
	w, _ = start()
	defer w.Close(context.Background())
	eventually(t, "eve copied", func() bool {
		return len(rows(t, conn, `SELECT 1 FROM customers_copy WHERE name = 'eve'`)) == 1
	})
	if got := rows(t, conn, `SELECT 1 FROM customers_copy WHERE name = 'bob'`); len(got) != 0 {
		t.Fatalf("bob came back: the source repeated a row")
	}

	// The topic holds each change once: 3 rows, an insert, an update,
	// the insert made during the restart.
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "pg-customers")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 6 {
		t.Fatalf("topic has %d records, want 6", total)
	}

	// The records are JsonConverter envelopes with the table's schema.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(cluster.Addr()), kgo.ConsumeTopics("pg-customers"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fetches := consumer.PollRecords(ctx, 1)
	if errs := fetches.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	var env struct {
		Schema struct {
			Type, Name string
			Fields     []struct{ Field, Type, Name string }
		}
		Payload map[string]any
	}
	r := fetches.Records()[0]
	if err := json.Unmarshal(r.Value, &env); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, f := range env.Schema.Fields {
		fields = append(fields, fmt.Sprintf("%s:%s:%s", f.Field, f.Type, f.Name))
	}
	wantFields := []string{"id:int32:", "name:string:", "balance:bytes:org.apache.kafka.connect.data.Decimal",
		"updated:int64:org.apache.kafka.connect.data.Timestamp"}
	if env.Schema.Type != "struct" || env.Schema.Name != "customers" || !reflect.DeepEqual(fields, wantFields) || r.Key != nil {
		t.Fatalf("record %s (key %q): fields %v", r.Value, r.Key, fields)
	}
}

// Debezium's PostgresConnector configuration, POSTed to a standalone
// worker, snapshots a table and streams its changes into a topic as
// Debezium's change events.
func TestCDCThroughWorker(t *testing.T) {
	pg := shared.Get(t)
	url := pg.CreateDatabase(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec(t, conn, `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)`)
	exec(t, conn, `INSERT INTO customers VALUES (1, 'ann'), (2, 'bob')`)
	db := url[len("postgres://postgres@"+pg.Addr()+"/") : len(url)-len("?sslmode=disable")]

	cluster := kafkatest.Start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
	w, err := worker.StartStandalone(context.Background(), map[string]string{
		worker.BootstrapServersConfig:    cluster.Addr(),
		worker.KeyConverterConfig:        "org.apache.kafka.connect.json.JsonConverter",
		worker.ValueConverterConfig:      "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "false",
		"value.converter.schemas.enable": "false",
		worker.OffsetStorageFileConfig:   filepath.Join(t.TempDir(), "connect.offsets"),
		worker.OffsetFlushIntervalConfig: "100",
		worker.ListenersConfig:           "http://127.0.0.1:0",
	}, nil, worker.StandaloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	base := w.URL().String()
	code, body := post(t, base+"/connectors", map[string]any{"name": "cdc", "config": map[string]string{
		"connector.class":   "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname": "127.0.0.1", "database.port": fmt.Sprint(pg.Port), "database.user": "postgres",
		"database.dbname": db, "database.sslmode": "disable", "topic.prefix": "cdc",
		"plugin.name": "pgoutput", "slot.drop.on.stop": "true", "poll.interval.ms": "50",
	}})
	if code != http.StatusCreated {
		t.Fatalf("POST /connectors: %d %s", code, body)
	}
	eventually(t, "cdc running", func() bool { return reflect.DeepEqual(states(t, base, "cdc"), []string{"RUNNING", "RUNNING"}) })
	exec(t, conn, `INSERT INTO customers VALUES (3, 'cy')`)
	exec(t, conn, `DELETE FROM customers WHERE id = 1`)

	consumer, err := kgo.NewClient(kgo.SeedBrokers(cluster.Addr()), kgo.ConsumeTopics("cdc.public.customers"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(got) < 5 && ctx.Err() == nil {
		fetches := consumer.PollFetches(ctx)
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				got = append(got, "tombstone "+string(r.Key))
				return
			}
			var env struct {
				Op            string
				Before, After *struct{ Name string }
			}
			if err := json.Unmarshal(r.Value, &env); err != nil {
				t.Fatal(err)
			}
			row := env.After
			if row == nil {
				row = env.Before
			}
			got = append(got, env.Op+" "+string(r.Key)+" "+row.Name)
		})
	}
	// With the default replica identity a delete's "before" holds only
	// the primary key, as with Debezium.
	want := []string{`r {"id":1} ann`, `r {"id":2} bob`, `c {"id":3} cy`, `d {"id":1} `, `tombstone {"id":1}`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}
