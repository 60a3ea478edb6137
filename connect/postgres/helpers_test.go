package postgres

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/internal/testpg"
)

// PG is the PostgreSQL server the package's tests share (exported for
// the external test package).
var PG testpg.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	PG.Close()
	os.Exit(code)
}

// testDB is a fresh database and a connection to it.
type testDB struct {
	t    *testing.T
	url  string
	jdbc string
	conn *pgx.Conn
}

func newDB(t *testing.T) *testDB {
	t.Helper()
	srv := PG.Get(t)
	url := srv.CreateDatabase(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	db := url[len("postgres://postgres@"+srv.Addr()+"/"):]
	db = db[:len(db)-len("?sslmode=disable")]
	return &testDB{t: t, url: url, jdbc: srv.JDBCURL(db) + "?user=postgres", conn: conn}
}

// exec runs SQL, failing the test on error.
func (d *testDB) exec(sql string, args ...any) {
	d.t.Helper()
	if _, err := d.conn.Exec(context.Background(), sql, args...); err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
}

// rows returns the rows of a query, each as a slice of values.
func (d *testDB) rows(sql string, args ...any) [][]any {
	d.t.Helper()
	rows, err := d.conn.Query(context.Background(), sql, args...)
	if err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// offsetStore is an in-memory OffsetStorageReader the tests commit to.
type offsetStore map[string]map[string]any

func partitionKey(p map[string]any) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func (s offsetStore) Offset(p map[string]any) (map[string]any, error) {
	return maps.Clone(s[partitionKey(p)]), nil
}

func (s offsetStore) Offsets(ps []map[string]any) ([]map[string]any, error) {
	out := make([]map[string]any, len(ps))
	for i, p := range ps {
		out[i], _ = s.Offset(p)
	}
	return out, nil
}

// commit stores the offsets of records, as the worker does once Kafka has
// them.
func (s offsetStore) commit(records []*connect.SourceRecord) {
	for _, r := range records {
		if r.SourcePartition != nil {
			s[partitionKey(r.SourcePartition)] = maps.Clone(r.SourceOffset)
		}
	}
}

type sourceContext struct {
	props   map[string]string
	offsets offsetStore
}

func (c *sourceContext) Configs() map[string]string                       { return c.props }
func (c *sourceContext) OffsetStorageReader() connect.OffsetStorageReader { return c.offsets }

// startSource starts the connector with props and one task per task
// configuration it gives (at most maxTasks), with offsets.
func startSource(t *testing.T, props map[string]string, maxTasks int, offsets offsetStore) []*SourceTask {
	t.Helper()
	c := &SourceConnector{}
	if err := c.Start(props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	configs, err := c.TaskConfigs(maxTasks)
	if err != nil {
		t.Fatal(err)
	}
	var tasks []*SourceTask
	for _, cfg := range configs {
		task := &SourceTask{}
		task.Initialize(&sourceContext{props: cfg, offsets: offsets})
		if err := task.Start(cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { task.Stop() })
		tasks = append(tasks, task)
	}
	return tasks
}

// pollUntil polls task, committing offsets, until done says the records
// so far are enough; a generous bound guards liveness.
func pollUntil(t *testing.T, task connect.SourceTask, offsets offsetStore, done func([]*connect.SourceRecord) bool) []*connect.SourceRecord {
	t.Helper()
	var all []*connect.SourceRecord
	deadline := time.Now().Add(30 * time.Second)
	for !done(all) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out polling: have %d records", len(all))
		}
		recs, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		offsets.commit(recs)
		all = append(all, recs...)
	}
	return all
}

// atLeast is a pollUntil condition.
func atLeast(n int) func([]*connect.SourceRecord) bool {
	return func(r []*connect.SourceRecord) bool { return len(r) >= n }
}

// untilValue is a pollUntil condition: a record whose field has value.
func untilValue(field string, value any) func([]*connect.SourceRecord) bool {
	return func(rs []*connect.SourceRecord) bool {
		for _, r := range rs {
			if connect.ValuesEqual(r.Value.(*connect.Struct).Get(field), value) {
				return true
			}
		}
		return false
	}
}

// field returns a record's value field.
func field(r *connect.SourceRecord, name string) any { return r.Value.(*connect.Struct).Get(name) }
