package postgres

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gregor-streaming/gregor/connect"
)

// postgresEpoch is where the replication protocol's timestamps count
// microseconds from.
var postgresEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// CDCSourceTask snapshots, then streams, one database's changes (see the
// comment at the top of cdc.go). Poll, Start and Stop run on the worker's
// task goroutine; Commit may run on another and only stores the position
// to confirm, which Poll sends to the server.
type CDCSourceTask struct {
	tctx      connect.SourceTaskContext
	cfg       *cdcConfig
	log       *slog.Logger
	conn      *pgx.Conn      // catalog queries and the snapshot
	repl      *pgconn.PgConn // the replication connection
	db        string
	partition map[string]any
	tables    map[tableID]*tableMeta
	relations map[uint32]*relation

	// Snapshot state.
	snapTx     pgx.Tx
	snapTables []tableID
	snapIdx    int
	snapRows   pgx.Rows
	snapMeta   *tableMeta
	snapCols   []column
	snapDsts   []any
	snapLSN    uint64
	snapCount  int
	pending    *connect.SourceRecord // the last snapshot record so far, held back to mark it "last"
	streaming  bool
	typeMap    *pgtype.Map
	tx         struct{ xid, commitLSN, ts uint64 }
	flushLSN   uint64    // end of the last whole transaction seen
	skipUpTo   [2]uint64 // (lsn_commit, lsn) already in Kafka
	confirmed  atomic.Uint64
	lastStatus time.Time
	batch      []*connect.SourceRecord
	txStart    int // index in batch of the current transaction's first record
}

var (
	_ connect.SourceTask          = (*CDCSourceTask)(nil)
	_ connect.SourceTaskCommitter = (*CDCSourceTask)(nil)
)

// tableMeta is a captured table's topic and schemas.
type tableMeta struct {
	id       tableID
	topic    string
	keyCols  []string
	key      *connect.Schema // nil for a table without a key
	value    *connect.Schema
	envelope *connect.Schema
}

// relation is a pgoutput Relation message: a table's columns as the
// stream sends them.
type relation struct {
	id   tableID
	cols []relColumn
	meta *tableMeta
}

type relColumn struct {
	name   string
	oid    uint32
	typmod int32
	key    bool
	col    column
}

var (
	sourceSchema = connect.StructBuilder().Name("io.debezium.connector.postgresql.Source").
			Field("version", connect.StringSchema).
			Field("connector", connect.StringSchema).
			Field("name", connect.StringSchema).
			Field("ts_ms", connect.Int64Schema).
			Field("snapshot", connect.StringBuilder().Optional().Name("io.debezium.data.Enum").Version(1).
				Parameter("allowed", "true,last,false,incremental").DefaultValue("false").MustBuild()).
			Field("db", connect.StringSchema).
			Field("sequence", connect.OptionalStringSchema).
			Field("schema", connect.StringSchema).
			Field("table", connect.StringSchema).
			Field("txId", connect.OptionalInt64Schema).
			Field("lsn", connect.OptionalInt64Schema).
			Field("xmin", connect.OptionalInt64Schema).
			MustBuild()
	blockSchema = connect.StructBuilder().Name("event.block").Version(1).Optional().
			Field("id", connect.StringSchema).
			Field("total_order", connect.Int64Schema).
			Field("data_collection_order", connect.Int64Schema).
			MustBuild()
	heartbeatKey   = connect.StructBuilder().Name("io.debezium.connector.common.ServerNameKey").Field("serverName", connect.StringSchema).MustBuild()
	heartbeatValue = connect.StructBuilder().Name("io.debezium.connector.common.Heartbeat").Field("ts_ms", connect.Int64Schema).MustBuild()
)

// newTableMeta builds a table's schemas from its columns; keyCols name
// the replica identity (primary key) columns.
func (t *CDCSourceTask) newTableMeta(id tableID, cols []column, keyCols []string) (*tableMeta, error) {
	base := t.cfg.prefix + "." + id.schema + "." + id.name
	m := &tableMeta{id: id, topic: base, keyCols: keyCols}
	vb := connect.StructBuilder().Name(base + ".Value").Optional()
	kb := connect.StructBuilder().Name(base + ".Key")
	for _, c := range cols {
		vb = vb.Field(c.name, c.schema)
		for _, k := range keyCols {
			if k == c.name {
				s := *c.schema
				s.Optional = false
				kb = kb.Field(c.name, &s)
			}
		}
	}
	var err error
	if m.value, err = vb.Build(); err != nil {
		return nil, err
	}
	if len(keyCols) > 0 {
		if m.key, err = kb.Build(); err != nil {
			return nil, err
		}
	}
	m.envelope, err = connect.StructBuilder().Name(base+".Envelope").Version(1).
		Field("before", m.value).Field("after", m.value).Field("source", sourceSchema).
		Field("op", connect.StringSchema).Field("ts_ms", connect.OptionalInt64Schema).
		Field("transaction", blockSchema).Build()
	if err != nil {
		return nil, err
	}
	if old := t.tables[id]; old != nil && old.envelope.Equal(m.envelope) && old.key.Equal(m.key) {
		return old, nil // keep the schemas converters have seen
	}
	t.tables[id] = m
	return m, nil
}

// Version returns connect.Version.
func (*CDCSourceTask) Version() string { return connect.Version }

// Initialize keeps the context, for offsets.
func (t *CDCSourceTask) Initialize(ctx connect.SourceTaskContext) { t.tctx = ctx }

// Start connects, makes sure the publication and the slot exist, and
// either begins the snapshot or starts streaming from the stored offset.
func (t *CDCSourceTask) Start(props map[string]string) error {
	cfg, err := parseCDCConfig(props)
	if err != nil {
		return err
	}
	t.cfg = cfg
	t.log = slog.Default().With("connector", props["name"], "task", "PostgresCdcSourceTask")
	t.tables, t.relations = map[tableID]*tableMeta{}, map[uint32]*relation{}
	t.typeMap = pgtype.NewMap()
	t.partition = map[string]any{ServerField: cfg.prefix}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if t.conn, err = cfg.conn.connect(ctx, t.log); err != nil {
		return err
	}
	if err := t.conn.QueryRow(ctx, "SELECT current_database()").Scan(&t.db); err != nil {
		return err
	}
	if err := t.ensurePublication(ctx); err != nil {
		return err
	}
	if err := t.connectReplication(ctx); err != nil {
		return err
	}
	offset, err := t.tctx.OffsetStorageReader().Offset(t.partition)
	if err != nil {
		return fmt.Errorf("read offsets: %w", err)
	}
	snapshot := cfg.snapshotMode == SnapshotInitial &&
		(offset == nil || (offset[SnapshotField] == true && offset[LastSnapshotRecordField] != true))
	var slotFlush *string
	err = t.conn.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", cfg.slot).Scan(&slotFlush)
	slotExists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up replication slot %s: %w", cfg.slot, err)
	}
	if snapshot {
		if slotExists {
			t.log.Info("Dropping replication slot to take a new snapshot", "slot", cfg.slot)
			if err := t.dropSlot(ctx); err != nil {
				return err
			}
		}
		return t.beginSnapshot(ctx)
	}
	var start uint64
	switch {
	case !slotExists:
		if offset != nil {
			t.log.Warn("The replication slot is gone: changes since the stored offset may be lost", "slot", cfg.slot)
		}
		lsn, _, err := t.createSlot(ctx, false)
		if err != nil {
			return err
		}
		start = lsn
	case slotFlush != nil:
		if start, err = parseLSN(*slotFlush); err != nil {
			return err
		}
	}
	if offset != nil {
		if f, ok := offset[LSNFlushField].(int64); ok && uint64(f) > start {
			start = uint64(f)
		}
		c, _ := offset[LSNCommitField].(int64)
		l, _ := offset[LSNField].(int64)
		if offset[SnapshotField] != true {
			t.skipUpTo = [2]uint64{uint64(c), uint64(l)}
		}
	}
	return t.startStreaming(ctx, start)
}

// ensurePublication creates the publication if it is missing and
// publication.autocreate.mode allows.
func (t *CDCSourceTask) ensurePublication(ctx context.Context) error {
	var n int
	if err := t.conn.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_publication WHERE pubname = $1", t.cfg.publication).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	pub := quoteIdent(t.cfg.publication, true)
	var sql string
	switch t.cfg.autocreate {
	case "disabled":
		return fmt.Errorf("%w: publication %s does not exist and %s is disabled; CREATE PUBLICATION %s FOR ALL TABLES (or FOR TABLE …)",
			ErrTableMissing, t.cfg.publication, PublicationAutocreateMode, pub)
	case "filtered":
		rows, err := t.conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r','p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%' ORDER BY 1, 2`)
		if err != nil {
			return err
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableID, error) {
			var id tableID
			return id, r.Scan(&id.schema, &id.name)
		})
		if err != nil {
			return err
		}
		var names []string
		for _, id := range all {
			if t.cfg.captures(id) {
				names = append(names, id.sql(true))
			}
		}
		if len(names) == 0 {
			return fmt.Errorf("%w: no table matches %s to create publication %s for", ErrTableMissing, TableIncludeListConfig, t.cfg.publication)
		}
		sql = "CREATE PUBLICATION " + pub + " FOR TABLE " + strings.Join(names, ", ")
	default:
		sql = "CREATE PUBLICATION " + pub + " FOR ALL TABLES"
	}
	t.log.Info("Creating publication", "sql", sql)
	if _, err := t.conn.Exec(ctx, sql); err != nil {
		return explainSQL(err, t.cfg.conn.user, "publication "+t.cfg.publication, "CREATE")
	}
	return nil
}

// dropSlot drops the replication slot once no connection uses it (a
// walsender whose client went away takes a moment to exit).
func (t *CDCSourceTask) dropSlot(ctx context.Context) error {
	for {
		var active bool
		err := t.conn.QueryRow(ctx, "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", t.cfg.slot).Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("drop replication slot %s: %w", t.cfg.slot, err)
		}
		if !active {
			if _, err := t.conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", t.cfg.slot); err != nil {
				return fmt.Errorf("drop replication slot %s: %w", t.cfg.slot, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop replication slot %s: still in use: %w", t.cfg.slot, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// connectReplication opens the replication connection.
func (t *CDCSourceTask) connectReplication(ctx context.Context) error {
	pc, err := pgconn.ParseConfig(t.cfg.conn.url)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrURL, err)
	}
	pc.User = t.cfg.conn.user
	if t.cfg.conn.password != "" {
		pc.Password = t.cfg.conn.password
	}
	pc.RuntimeParams["replication"] = "database"
	pc.RuntimeParams["application_name"] = "gregor-connect-cdc"
	if t.repl, err = pgconn.ConnectConfig(ctx, pc); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "28000") {
			return fmt.Errorf("%w: user %q may not open a replication connection (%s); ALTER ROLE %s REPLICATION, and allow it in pg_hba.conf: %w",
				ErrPermission, pc.User, pe.Message, pc.User, err)
		}
		return explain(err, pc.User, t.cfg.conn.display)
	}
	return nil
}

// createSlot creates the replication slot and returns its consistent
// point and, with export, the snapshot that matches it.
func (t *CDCSourceTask) createSlot(ctx context.Context, export bool) (uint64, string, error) {
	mode := "NOEXPORT_SNAPSHOT"
	if export {
		mode = "EXPORT_SNAPSHOT"
	}
	results, err := t.repl.Exec(ctx, fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", quoteIdent(t.cfg.slot, true), mode)).ReadAll()
	if err != nil {
		return 0, "", explainSQL(err, t.cfg.conn.user, "replication slot "+t.cfg.slot, "CREATE")
	}
	if len(results) == 0 || len(results[0].Rows) == 0 || len(results[0].Rows[0]) < 3 {
		return 0, "", errors.New("CREATE_REPLICATION_SLOT returned no row")
	}
	row := results[0].Rows[0]
	lsn, err := parseLSN(string(row[1]))
	if err != nil {
		return 0, "", err
	}
	t.log.Info("Created replication slot", "slot", t.cfg.slot, "consistent_point", string(row[1]))
	return lsn, string(row[2]), nil
}

// beginSnapshot creates the slot with an exported snapshot and opens a
// transaction that reads the tables as of the slot's consistent point.
func (t *CDCSourceTask) beginSnapshot(ctx context.Context) error {
	lsn, name, err := t.createSlot(ctx, true)
	if err != nil {
		return err
	}
	t.snapLSN = lsn
	tx, err := t.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+name+"'"); err != nil {
		tx.Rollback(context.Background())
		return fmt.Errorf("import snapshot: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2", t.cfg.publication)
	if err != nil {
		tx.Rollback(context.Background())
		return err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableID, error) {
		var id tableID
		return id, r.Scan(&id.schema, &id.name)
	})
	if err != nil {
		tx.Rollback(context.Background())
		return err
	}
	for _, id := range all {
		if t.cfg.captures(id) {
			t.snapTables = append(t.snapTables, id)
		}
	}
	t.snapTx = tx
	t.log.Info("Snapshot started", "tables", len(t.snapTables), "lsn", formatLSN(lsn))
	return nil
}

// keyColumns returns a table's primary key columns, in key order.
func keyColumns(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, id tableID) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT a.attname FROM pg_catalog.pg_index i
		JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])
		WHERE i.indrelid = $1::text::regclass AND i.indisprimary
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, id.sql(true))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Poll returns snapshot records, then change events.
func (t *CDCSourceTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if !t.streaming {
		return t.pollSnapshot(ctx)
	}
	return t.pollStream(ctx)
}

func (t *CDCSourceTask) snapshotOffset(last bool) map[string]any {
	return map[string]any{LSNField: int64(t.snapLSN), LSNFlushField: int64(t.snapLSN), SnapshotField: true, LastSnapshotRecordField: last}
}

func (t *CDCSourceTask) pollSnapshot(ctx context.Context) ([]*connect.SourceRecord, error) {
	var batch []*connect.SourceRecord
	for len(batch) < t.cfg.batch {
		if t.snapRows == nil {
			if t.snapIdx == len(t.snapTables) {
				return t.finishSnapshot(ctx, batch)
			}
			if err := t.openSnapshotTable(ctx, t.snapTables[t.snapIdx]); err != nil {
				return nil, err
			}
		}
		if !t.snapRows.Next() {
			if err := t.snapRows.Err(); err != nil {
				return nil, explainSQL(err, t.cfg.conn.user, t.snapMeta.id.String(), "SELECT")
			}
			t.snapRows.Close()
			t.snapRows = nil
			t.snapIdx++
			continue
		}
		if err := t.snapRows.Scan(t.snapDsts...); err != nil {
			return nil, err
		}
		values := make([]any, len(t.snapCols))
		for i := range t.snapCols {
			v, err := t.snapCols[i].connectValue(t.snapDsts[i], t.cfg.loc)
			if err != nil {
				return nil, err
			}
			values[i] = v
		}
		now := time.Now()
		rec, err := t.event(t.snapMeta, t.snapCols, nil, values, "r", now, "true", map[string]any{TxIDField: nil, LSNField: int64(t.snapLSN)})
		if err != nil {
			return nil, err
		}
		rec.SourceOffset = t.snapshotOffset(false)
		t.snapCount++
		if t.pending != nil {
			batch = append(batch, t.pending)
		}
		t.pending = rec
	}
	return batch, nil
}

func (t *CDCSourceTask) openSnapshotTable(ctx context.Context, id tableID) error {
	sd, err := t.snapTx.Prepare(ctx, "", "SELECT * FROM "+id.sql(true))
	if err != nil {
		return explainSQL(err, t.cfg.conn.user, id.String(), "SELECT")
	}
	keys, err := keyColumns(ctx, t.snapTx, id)
	if err != nil {
		return err
	}
	var cols []column
	var exprs []string
	for _, f := range sd.Fields {
		c := newColumn(f.Name, quoteIdent(f.Name, true), f.DataTypeOID, f.TypeModifier, true, NumericMappingNone)
		cols = append(cols, c)
		exprs = append(exprs, c.expr)
	}
	meta, err := t.newTableMeta(id, cols, keys)
	if err != nil {
		return err
	}
	rows, err := t.snapTx.Query(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+id.sql(true))
	if err != nil {
		return explainSQL(err, t.cfg.conn.user, id.String(), "SELECT")
	}
	t.snapMeta, t.snapCols, t.snapRows = meta, cols, rows
	t.snapDsts = make([]any, len(cols))
	for i, c := range cols {
		t.snapDsts[i] = scanTarget(c.kind)
	}
	return nil
}

// finishSnapshot ends the snapshot transaction, marks the last record
// and starts streaming from the slot's consistent point. A snapshot that
// found no rows stores its offset with a heartbeat record, as Debezium's
// heartbeats do, so that a restart does not snapshot again.
func (t *CDCSourceTask) finishSnapshot(ctx context.Context, batch []*connect.SourceRecord) ([]*connect.SourceRecord, error) {
	if err := t.snapTx.Commit(ctx); err != nil {
		return nil, err
	}
	t.snapTx = nil
	if t.pending != nil {
		t.pending.SourceOffset = t.snapshotOffset(true)
		src := t.pending.Value.(*connect.Struct).Get("source").(*connect.Struct)
		src.Put("snapshot", "last")
		batch = append(batch, t.pending)
		t.pending = nil
	} else {
		batch = append(batch, t.heartbeat(t.snapshotOffset(true)))
	}
	t.log.Info("Snapshot completed", "records", t.snapCount)
	if err := t.startStreaming(ctx, t.snapLSN); err != nil {
		return nil, err
	}
	return batch, nil
}

// heartbeat is a record on Debezium's heartbeat topic carrying offset.
func (t *CDCSourceTask) heartbeat(offset map[string]any) *connect.SourceRecord {
	return &connect.SourceRecord{
		SourcePartition: t.partition, SourceOffset: offset,
		Record: connect.Record{
			Topic:     "__debezium-heartbeat." + t.cfg.prefix,
			KeySchema: heartbeatKey, Key: connect.NewStruct(heartbeatKey).Put("serverName", t.cfg.prefix),
			ValueSchema: heartbeatValue, Value: connect.NewStruct(heartbeatValue).Put("ts_ms", time.Now().UnixMilli()),
		},
	}
}

// startStreaming starts the replication stream at lsn.
func (t *CDCSourceTask) startStreaming(ctx context.Context, lsn uint64) error {
	sql := fmt.Sprintf("START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', publication_names '%s')",
		quoteIdent(t.cfg.slot, true), formatLSN(lsn), strings.ReplaceAll(quoteIdent(t.cfg.publication, true), "'", "''"))
	t.repl.Frontend().SendQuery(&pgproto3.Query{String: sql})
	if err := t.repl.Frontend().Flush(); err != nil {
		return fmt.Errorf("start replication: %w", err)
	}
	for {
		msg, err := t.repl.ReceiveMessage(ctx)
		if err != nil {
			return fmt.Errorf("start replication: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyBothResponse:
			t.streaming = true
			t.flushLSN = lsn
			t.confirmed.Store(lsn)
			t.lastStatus = time.Now()
			t.log.Info("Streaming changes", "slot", t.cfg.slot, "from", formatLSN(lsn))
			return nil
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("start replication: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus:
		default:
			return fmt.Errorf("start replication: unexpected %T", msg)
		}
	}
}

// sendStatus reports the confirmed position to the server.
func (t *CDCSourceTask) sendStatus() error {
	lsn := t.confirmed.Load()
	b := make([]byte, 34)
	b[0] = 'r'
	binary.BigEndian.PutUint64(b[1:], lsn)
	binary.BigEndian.PutUint64(b[9:], lsn)
	binary.BigEndian.PutUint64(b[17:], lsn)
	binary.BigEndian.PutUint64(b[25:], uint64(time.Since(postgresEpoch).Microseconds()))
	t.repl.Frontend().Send(&pgproto3.CopyData{Data: b})
	t.lastStatus = time.Now()
	return t.repl.Frontend().Flush()
}

func (t *CDCSourceTask) pollStream(ctx context.Context) ([]*connect.SourceRecord, error) {
	t.batch, t.txStart = nil, 0
	deadline := time.Now().Add(t.cfg.poll)
	for len(t.batch) < t.cfg.batch {
		if time.Since(t.lastStatus) >= t.cfg.statusInterval {
			if err := t.sendStatus(); err != nil {
				return nil, fmt.Errorf("send status update: %w", err)
			}
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := t.repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			if pgconn.Timeout(err) {
				break
			}
			return nil, fmt.Errorf("%w: replication stream: %w", ErrConnect, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if err := t.handleCopyData(m.Data); err != nil {
				return nil, err
			}
		case *pgproto3.ErrorResponse:
			return nil, fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyDone:
			return nil, errors.New("replication stream: the server ended it")
		}
	}
	out := t.batch
	t.batch = nil
	return out, nil
}

func (t *CDCSourceTask) handleCopyData(d []byte) error {
	if len(d) == 0 {
		return nil
	}
	switch d[0] {
	case 'k': // primary keepalive: walEnd, clock, reply requested
		if len(d) >= 18 && d[17] == 1 {
			return t.sendStatus()
		}
	case 'w': // XLogData: walStart, walEnd, clock, message
		if len(d) < 25 {
			return errors.New("replication stream: short XLogData")
		}
		return t.handleMessage(binary.BigEndian.Uint64(d[1:9]), d[25:])
	}
	return nil
}

// reader decodes pgoutput's fields.
type reader struct {
	b   []byte
	err error
}

func (r *reader) need(n int) bool {
	if r.err == nil && len(r.b) < n {
		r.err = errors.New("pgoutput: message too short")
	}
	return r.err == nil
}

func (r *reader) u8() byte {
	if !r.need(1) {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) str() string {
	i := strings.IndexByte(string(r.b), 0)
	if i < 0 {
		r.err = errors.New("pgoutput: unterminated string")
		return ""
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s
}

// tuple reads TupleData: one value per column, nil for NULL, and the
// columns that were unchanged TOAST values.
func (r *reader) tuple() (vals [][]byte, present []bool) {
	n := int(r.u16())
	vals, present = make([][]byte, n), make([]bool, n)
	for i := 0; i < n && r.err == nil; i++ {
		switch r.u8() {
		case 'n':
			present[i] = true
		case 'u':
		case 't':
			l := int(r.u32())
			if r.need(l) {
				vals[i], present[i] = r.b[:l], true
				r.b = r.b[l:]
			}
		default:
			r.err = errors.New("pgoutput: unknown tuple value kind")
		}
	}
	return vals, present
}

// handleMessage decodes one pgoutput message at WAL position lsn.
func (t *CDCSourceTask) handleMessage(lsn uint64, msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	r := &reader{b: msg[1:]}
	switch msg[0] {
	case 'B':
		t.tx.commitLSN, t.tx.ts, t.tx.xid = r.u64(), r.u64(), uint64(r.u32())
		t.txStart = len(t.batch)
	case 'C':
		r.u8()
		r.u64() // commit LSN
		end := r.u64()
		if r.err != nil {
			return r.err
		}
		t.flushLSN = end
		// The transaction's last record in this batch carries its end, so
		// that storing it lets the slot move past the transaction.
		if i := len(t.batch) - 1; i >= t.txStart && i >= 0 {
			t.batch[i].SourceOffset[LSNFlushField] = int64(end)
		}
	case 'R':
		id := r.u32()
		rel := &relation{id: tableID{schema: r.str(), name: r.str()}}
		r.u8() // replica identity
		n := int(r.u16())
		var cols []column
		var keys []string
		for i := 0; i < n && r.err == nil; i++ {
			flags := r.u8()
			c := relColumn{key: flags&1 == 1}
			c.name = r.str()
			c.oid = r.u32()
			c.typmod = int32(r.u32())
			c.col = newColumn(c.name, quoteIdent(c.name, true), c.oid, c.typmod, true, NumericMappingNone)
			rel.cols = append(rel.cols, c)
			cols = append(cols, c.col)
			if c.key {
				keys = append(keys, c.name)
			}
		}
		if r.err != nil {
			return r.err
		}
		if t.cfg.captures(rel.id) {
			// The key is the primary key, as Debezium's; the relation's
			// key flags are the replica identity, which FULL makes every
			// column.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			pk, err := keyColumns(ctx, t.conn, rel.id)
			cancel()
			if err != nil {
				return fmt.Errorf("primary key of %s: %w", rel.id, err)
			}
			if len(pk) > 0 {
				keys = pk
			}
			meta, err := t.newTableMeta(rel.id, cols, keys)
			if err != nil {
				return err
			}
			rel.meta = meta
		}
		t.relations[id] = rel
	case 'I', 'U', 'D':
		rel := t.relations[r.u32()]
		if rel == nil {
			return errors.New("pgoutput: change for a relation that was not described")
		}
		var before, after [][]byte
		var beforeSet, afterSet []bool
		switch msg[0] {
		case 'I':
			r.u8() // 'N'
			after, afterSet = r.tuple()
		case 'U':
			if kind := r.u8(); kind == 'K' || kind == 'O' {
				before, beforeSet = r.tuple()
				r.u8() // 'N'
			}
			after, afterSet = r.tuple()
		case 'D':
			r.u8() // 'K' or 'O'
			before, beforeSet = r.tuple()
		}
		if r.err != nil {
			return r.err
		}
		if rel.meta == nil || t.skip(lsn) {
			return nil
		}
		op := map[byte]string{'I': "c", 'U': "u", 'D': "d"}[msg[0]]
		return t.change(rel, op, lsn, before, beforeSet, after, afterSet)
	}
	return r.err
}

// skip reports whether the change at lsn of the current transaction is
// already in Kafka (a restart re-reads from the last whole transaction).
func (t *CDCSourceTask) skip(lsn uint64) bool {
	c, l := t.skipUpTo[0], t.skipUpTo[1]
	return t.tx.commitLSN < c || (t.tx.commitLSN == c && lsn <= l)
}

// change turns a decoded change into an event (and a tombstone after a
// delete).
func (t *CDCSourceTask) change(rel *relation, op string, lsn uint64, before [][]byte, beforeSet []bool, after [][]byte, afterSet []bool) error {
	decode := func(vals [][]byte, set []bool) ([]any, error) {
		if vals == nil {
			return nil, nil
		}
		out := make([]any, len(rel.cols))
		for i := range rel.cols {
			if i >= len(vals) || !set[i] || vals[i] == nil {
				continue
			}
			v, err := t.textValue(&rel.cols[i], vals[i])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", rel.id, rel.cols[i].name, err)
			}
			out[i] = v
		}
		return out, nil
	}
	b, err := decode(before, beforeSet)
	if err != nil {
		return err
	}
	a, err := decode(after, afterSet)
	if err != nil {
		return err
	}
	cols := make([]column, len(rel.cols))
	for i := range rel.cols {
		cols[i] = rel.cols[i].col
	}
	ts := postgresEpoch.Add(time.Duration(t.tx.ts) * time.Microsecond)
	rec, err := t.event(rel.meta, cols, b, a, op, ts, "false", map[string]any{TxIDField: int64(t.tx.xid), LSNField: int64(lsn)})
	if err != nil {
		return err
	}
	rec.SourceOffset = map[string]any{LSNField: int64(lsn), LSNCommitField: int64(t.tx.commitLSN), LSNFlushField: int64(t.flushLSN),
		TxIDField: int64(t.tx.xid), TsUsecField: ts.UnixMicro()}
	t.batch = append(t.batch, rec)
	if op == "d" && t.cfg.tombstones && rec.Key != nil {
		t.batch = append(t.batch, &connect.SourceRecord{
			SourcePartition: t.partition, SourceOffset: maps.Clone(rec.SourceOffset),
			Record: connect.Record{Topic: rec.Topic, KeySchema: rec.KeySchema, Key: rec.Key},
		})
	}
	return nil
}

// textValue converts a column's text form (as pgoutput sends it) to its
// Connect value.
func (t *CDCSourceTask) textValue(rc *relColumn, text []byte) (any, error) {
	c := &rc.col
	switch c.kind {
	case kindText:
		return string(text), nil
	case kindNumeric:
		return numericValue(string(text), c.schema)
	case kindBytes:
		s := string(text)
		if !strings.HasPrefix(s, `\x`) {
			return nil, fmt.Errorf("bytea %q is not in hex format", s)
		}
		return hex.DecodeString(s[2:])
	case kindTime:
		if rc.oid == pgtype.TimetzOID {
			return parseTimetz(string(text))
		}
	}
	dst := scanTarget(c.kind)
	if err := t.typeMap.Scan(rc.oid, pgtype.TextFormatCode, text, dst); err != nil {
		return nil, err
	}
	return c.connectValue(dst, t.cfg.loc)
}

// parseTimetz reads "15:04:05[.ffffff]+hh[:mm]" as the UTC time of day.
func parseTimetz(s string) (any, error) {
	i := strings.LastIndexAny(s, "+-")
	if i < 0 {
		return nil, fmt.Errorf("timetz %q without an offset", s)
	}
	clock, err := time.Parse("15:04:05.999999", s[:i])
	if err != nil {
		return nil, fmt.Errorf("timetz %q: %w", s, err)
	}
	off := s[i+1:]
	h, m, _ := strings.Cut(off, ":")
	hh, err1 := strconv.Atoi(h)
	mm := 0
	var err2 error
	if m != "" {
		mm, err2 = strconv.Atoi(m)
	}
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("timetz %q: bad offset", s)
	}
	shift := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
	if s[i] == '+' {
		shift = -shift
	}
	ms := (clock.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)) + shift).Milliseconds()
	ms = ((ms % 86400000) + 86400000) % 86400000
	return time.UnixMilli(ms).UTC(), nil
}

// event builds a change event record: key from the key columns,
// Debezium's envelope as value.
func (t *CDCSourceTask) event(meta *tableMeta, cols []column, before, after []any, op string, ts time.Time, snapshot string, extra map[string]any) (*connect.SourceRecord, error) {
	row := func(vals []any) (*connect.Struct, error) {
		if vals == nil {
			return nil, nil
		}
		s := connect.NewStruct(meta.value)
		for i, c := range cols {
			s.Put(c.name, vals[i])
		}
		return s, s.Err()
	}
	b, err := row(before)
	if err != nil {
		return nil, err
	}
	a, err := row(after)
	if err != nil {
		return nil, err
	}
	src := connect.NewStruct(sourceSchema).
		Put("version", connect.Version).Put("connector", "postgresql").Put("name", t.cfg.prefix).
		Put("ts_ms", ts.UnixMilli()).Put("snapshot", snapshot).Put("db", t.db).
		Put("schema", meta.id.schema).Put("table", meta.id.name)
	if v, ok := extra[TxIDField].(int64); ok {
		src.Put("txId", v)
	}
	if v, ok := extra[LSNField].(int64); ok {
		src.Put("lsn", v)
		src.Put("sequence", fmt.Sprintf(`["%d","%d"]`, t.tx.commitLSN, v))
	}
	env := connect.NewStruct(meta.envelope).Put("source", src).Put("op", op).Put("ts_ms", time.Now().UnixMilli())
	if b != nil {
		env.Put("before", b)
	}
	if a != nil {
		env.Put("after", a)
	}
	if err := env.Validate(); err != nil {
		return nil, err
	}
	rec := &connect.SourceRecord{SourcePartition: t.partition,
		Record: connect.Record{Topic: meta.topic, ValueSchema: meta.envelope, Value: env}}
	if meta.key != nil {
		vals := after
		if vals == nil {
			vals = before
		}
		k := connect.NewStruct(meta.key)
		for i, c := range cols {
			for _, name := range meta.keyCols {
				if name == c.name {
					k.Put(name, vals[i])
				}
			}
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("key of %s: %w", meta.id, err)
		}
		rec.KeySchema, rec.Key = meta.key, k
	}
	return rec, nil
}

// CommitRecord does nothing: Commit reads what the worker stored.
func (t *CDCSourceTask) CommitRecord(*connect.SourceRecord, connect.RecordMetadata) error { return nil }

// Commit learns the stored offset's flush position, which the next Poll
// confirms to the server.
func (t *CDCSourceTask) Commit() error {
	off, err := t.tctx.OffsetStorageReader().Offset(t.partition)
	if err != nil || off == nil {
		return err
	}
	if f, ok := off[LSNFlushField].(int64); ok && uint64(f) > t.confirmed.Load() {
		t.confirmed.Store(uint64(f))
	}
	return nil
}

// Stop closes the connections (dropping the slot with slot.drop.on.stop).
func (t *CDCSourceTask) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if t.snapRows != nil {
		t.snapRows.Close()
		t.snapRows = nil
	}
	if t.snapTx != nil {
		t.snapTx.Rollback(ctx)
		t.snapTx = nil
	}
	if t.repl != nil {
		if t.streaming {
			_ = t.sendStatus()
		}
		t.repl.Close(ctx)
		t.repl = nil
	}
	if t.conn != nil {
		if t.cfg.dropSlot {
			if err := t.dropSlot(ctx); err != nil {
				t.log.Warn("Could not drop the replication slot", "slot", t.cfg.slot, "err", err)
			}
		}
		t.conn.Close(ctx)
		t.conn = nil
	}
	return nil
}
