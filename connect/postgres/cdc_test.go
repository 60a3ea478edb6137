package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

func cdcProps(db *testDB, slot string, kv ...string) map[string]string {
	srv := PG.Get(db.t)
	var name string
	db.conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name)
	p := map[string]string{
		"name": "cdc", DatabaseHostnameConfig: "127.0.0.1", DatabasePortConfig: fmt.Sprint(srv.Port),
		DatabaseUserConfig: "postgres", DatabaseDBNameConfig: name, DatabaseSSLModeConfig: "disable",
		TopicPrefixConfig: "shop", SlotNameConfig: slot, PublicationNameConfig: slot + "_pub",
		CDCPollIntervalConfig: "50", StatusUpdateIntervalCfg: "100",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func startCDC(t *testing.T, props map[string]string, offsets offsetStore) *CDCSourceTask {
	t.Helper()
	c := &CDCSourceConnector{}
	if err := c.Start(props); err != nil {
		t.Fatal(err)
	}
	configs, err := c.TaskConfigs(3)
	if err != nil || len(configs) != 1 {
		t.Fatalf("task configs %v %v", configs, err)
	}
	task := &CDCSourceTask{}
	task.Initialize(&sourceContext{props: configs[0], offsets: offsets})
	if err := task.Start(configs[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task
}

// describe summarizes a change event: "op key before→after".
func describe(r *connect.SourceRecord) string {
	if r.Value == nil {
		return fmt.Sprintf("tombstone %v", r.Key)
	}
	env := r.Value.(*connect.Struct)
	row := func(name string) string {
		s, _ := env.Get(name).(*connect.Struct)
		if s == nil {
			return "-"
		}
		return fmt.Sprint(s.Get("name"))
	}
	return fmt.Sprintf("%s %v %s→%s", env.Get("op"), r.Key.(*connect.Struct).Get("id"), row("before"), row("after"))
}

func describeAll(rs []*connect.SourceRecord) []string {
	var out []string
	for _, r := range rs {
		if r.Topic == "shop.public.customers" {
			out = append(out, describe(r))
		}
	}
	return out
}

// untilCount is a pollUntil condition on the customers events.
func untilCount(n int) func([]*connect.SourceRecord) bool {
	return func(rs []*connect.SourceRecord) bool { return len(describeAll(rs)) >= n }
}

// The snapshot reads the rows as of the slot's creation ("r", the last
// one marked), then inserts, updates and deletes stream as Debezium's
// envelopes with tombstones; after a restart the task resumes where the
// stored offset says, also in the middle of a transaction, with nothing
// lost or repeated.
func TestCDC(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2))`)
	db.exec(`ALTER TABLE customers REPLICA IDENTITY FULL`)
	db.exec(`INSERT INTO customers VALUES (1, 'ann', 10.50), (2, 'bob', NULL)`)
	offsets := offsetStore{}
	props := cdcProps(db, "cdc_test", MaxBatchSizeConfig, "1")
	task := startCDC(t, props, offsets)
	recs := pollUntil(t, task, offsets, untilCount(2))
	if got := describeAll(recs); !reflect.DeepEqual(got, []string{"r 1 -→ann", "r 2 -→bob"}) {
		t.Fatalf("snapshot %v", got)
	}
	last := recs[len(recs)-1]
	if snap := last.Value.(*connect.Struct).Get("source").(*connect.Struct).Get("snapshot"); snap != "last" || last.SourceOffset[LastSnapshotRecordField] != true {
		t.Fatalf("last snapshot record: snapshot=%v offset %v", snap, last.SourceOffset)
	}
	env := recs[0].Value.(*connect.Struct)
	if after := env.Get("after").(*connect.Struct); !connect.ValuesEqual(after.Get("balance"), big.NewRat(1050, 100)) {
		t.Fatalf("snapshot balance %v", after.Get("balance"))
	}
	if recs[0].KeySchema.Name != "shop.public.customers.Key" || recs[0].ValueSchema.Name != "shop.public.customers.Envelope" {
		t.Fatalf("schemas %v %v", recs[0].KeySchema, recs[0].ValueSchema)
	}
	task.Commit()

	db.exec(`INSERT INTO customers VALUES (3, 'cy', 1)`)
	db.exec(`UPDATE customers SET name = 'ann b', balance = 11 WHERE id = 1`)
	db.exec(`DELETE FROM customers WHERE id = 2`)
	recs = pollUntil(t, task, offsets, untilCount(4))
	want := []string{"c 3 -→cy", "u 1 ann→ann b", "d 2 bob→-", "tombstone Struct{id=2}"}
	if got := describeAll(recs); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	src := recs[0].Value.(*connect.Struct).Get("source").(*connect.Struct)
	if src.Get("table") != "customers" || src.Get("schema") != "public" || src.Get("txId") == nil || src.Get("lsn") == nil {
		t.Fatalf("source %v", src)
	}
	task.Commit()
	task.Stop()

	// Changes while stopped, then a transaction the task reads only two
	// rows of (max.batch.size=1: one record per poll, however fast the
	// stream delivers) before stopping again.
	db.exec(`INSERT INTO customers VALUES (4, 'dee', 4)`)
	task = startCDC(t, props, offsets)
	recs = pollUntil(t, task, offsets, untilCount(1))
	if got := describeAll(recs); !reflect.DeepEqual(got, []string{"c 4 -→dee"}) {
		t.Fatalf("after restart %v", got)
	}
	db.exec(`BEGIN; INSERT INTO customers VALUES (5, 'eve', 5), (6, 'fay', 6), (7, 'gus', 7); COMMIT`)
	recs = pollUntil(t, task, offsets, untilCount(2))
	if got := describeAll(recs); !reflect.DeepEqual(got, []string{"c 5 -→eve", "c 6 -→fay"}) {
		t.Fatalf("half a transaction %v", got)
	}
	task.Commit()
	task.Stop()
	db.exec(`INSERT INTO customers VALUES (8, 'hal', 8)`)
	task = startCDC(t, props, offsets)
	recs = pollUntil(t, task, offsets, untilCount(2))
	if got := describeAll(recs); !reflect.DeepEqual(got, []string{"c 7 -→gus", "c 8 -→hal"}) {
		t.Fatalf("after the second restart %v", got)
	}
	task.cfg.dropSlot = true // slot.drop.on.stop
	task.Stop()
	if got := db.rows(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'cdc_test'`); len(got) != 0 {
		t.Fatalf("slot not dropped: %v", got)
	}
}

// Streamed values (pgoutput's text forms) equal the snapshot's (read in
// binary) for every type.
func TestCDCTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`CREATE TABLE customers (id int PRIMARY KEY, name text, i2 int2, i8 int8, f4 float4, f8 float8, n numeric(10,2), nfree numeric,
		b bool, by bytea, d date, tm time, tz timetz, ts timestamp, tstz timestamptz, j jsonb, u uuid, arr int[])`)
	row := `'x', 7, 9000000000, 1.5, 2.25, 12345678.91, 3.14159, true, '\x0102ff', '2024-02-29', '13:14:15.678', '13:14:15+02',
		'2024-02-29 13:14:15.678901', '2024-02-29 13:14:15.678+02', '{"b": 2}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2}'`
	db.exec(`INSERT INTO customers VALUES (1, ` + row + `)`)
	offsets := offsetStore{}
	task := startCDC(t, cdcProps(db, "cdc_types", SlotDropOnStopConfig, "true"), offsets)
	snap := pollUntil(t, task, offsets, untilCount(1))
	db.exec(`INSERT INTO customers VALUES (2, ` + row + `)`)
	stream := pollUntil(t, task, offsets, untilCount(1))
	a := snap[0].Value.(*connect.Struct).Get("after").(*connect.Struct)
	b := stream[0].Value.(*connect.Struct).Get("after").(*connect.Struct)
	for _, f := range a.Schema().Fields {
		if f.Name == "id" {
			continue
		}
		if !connect.ValuesEqual(a.Get(f.Name), b.Get(f.Name)) {
			t.Errorf("%s: snapshot %#v, stream %#v", f.Name, a.Get(f.Name), b.Get(f.Name))
		}
	}
	if got := b.Get("tz"); !connect.ValuesEqual(got, time.Date(1970, 1, 1, 11, 14, 15, 0, time.UTC)) {
		t.Errorf("timetz %v, want 11:14:15 UTC", got)
	}
}

// A user without the REPLICATION attribute gets an error that says so.
func TestCDCPermission(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	db.exec(`DROP ROLE IF EXISTS cdc_plain`)
	db.exec(`CREATE ROLE cdc_plain LOGIN`)
	db.exec(`CREATE TABLE customers (id int PRIMARY KEY)`)
	db.exec(`CREATE PUBLICATION cdc_perm_pub FOR ALL TABLES`)
	props := cdcProps(db, "cdc_perm", DatabaseUserConfig, "cdc_plain")
	c := &CDCSourceConnector{}
	if err := c.Start(props); err != nil {
		t.Fatal(err)
	}
	task := &CDCSourceTask{}
	task.Initialize(&sourceContext{props: props, offsets: offsetStore{}})
	err := task.Start(props)
	task.Stop()
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "REPLICATION") {
		t.Fatalf("start as a plain user: %v", err)
	}
}

func TestCDCTableFilter(t *testing.T) {
	cfg, err := parseCDCConfig(map[string]string{DatabaseHostnameConfig: "h", DatabaseUserConfig: "u", DatabaseDBNameConfig: "d",
		TopicPrefixConfig: "p", TableIncludeListConfig: `public\.c.*,inventory\..*`, TableExcludeListConfig: `public\.cold`})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[tableID]bool{
		{"public", "customers"}: true, {"public", "cold"}: false, {"public", "orders"}: false,
		{"inventory", "items"}: true, {"xpublic", "customers"}: false,
	} {
		if got := cfg.captures(id); got != want {
			t.Errorf("%v: %v, want %v", id, got, want)
		}
	}
	if lsn, err := parseLSN("16/B374D848"); err != nil || formatLSN(lsn) != "16/B374D848" || lsn != 0x16B374D848 {
		t.Errorf("LSN %x %v", lsn, err)
	}
}
