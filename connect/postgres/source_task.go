package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gregor-streaming/gregor/connect"
)

// SourceTask polls its tables (or the query) in turn: Confluent's
// JdbcSourceTask. Each table has a querier that, when its time comes,
// runs the mode's query and hands out its rows batch.max.rows at a time,
// then waits poll.interval.ms before querying again. Only one query is
// open at a time, on the task's one connection.
//
// A query that fails because the connection broke is retried on a new
// connection after connection.backoff.ms; any other failure (a missing
// table, a missing privilege) fails the task with a message saying what
// to fix.
type SourceTask struct {
	ctx  connect.SourceTaskContext
	cfg  *sourceConfig
	log  *slog.Logger
	conn *pgx.Conn
	db   string

	queriers []*querier
	active   *querier // the querier whose rows are open, or nil
}

var _ connect.SourceTask = (*SourceTask)(nil)

// querier reads one table (or the query).
type querier struct {
	table     tableID // zero in query mode
	topic     string
	partition map[string]any
	legacy    map[string]any // Confluent's pre-protocol partition, read only

	incColumn string // resolved incrementing column, or ""
	hasInc    bool
	inc       int64 // last incrementing value
	hasTS     bool
	ts        time.Time // last timestamp

	schema *connect.Schema // last value schema, kept while unchanged
	cols   []column
	dsts   []any
	rows   pgx.Rows
	next   time.Time // when to query again
}

// Version returns connect.Version.
func (*SourceTask) Version() string { return connect.Version }

// Initialize keeps the context, for offsets.
func (t *SourceTask) Initialize(ctx connect.SourceTaskContext) { t.ctx = ctx }

// Start connects, makes a querier per table and loads their offsets.
func (t *SourceTask) Start(props map[string]string) error {
	cfg, err := parseSourceConfig(props)
	if err != nil {
		return err
	}
	t.cfg = cfg
	t.log = slog.Default().With("connector", props["name"], "task", "PostgresSourceTask")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(cfg.conn.attempts)*cfg.conn.backoff)
	defer cancel()
	if err := t.reconnect(ctx); err != nil {
		return err
	}
	if cfg.query != "" {
		t.queriers = []*querier{{
			topic:     cfg.topicPrefix,
			partition: map[string]any{QueryField: QueryField}, // Confluent's: {"query":"query"}
			incColumn: cfg.incrementing,
		}}
		if needsInc(cfg.mode) && cfg.incrementing == "" {
			return fmt.Errorf("%w: %s is required with a query in mode %s", connect.ErrConfig, IncrementingColumnNameConfig, cfg.mode)
		}
	} else {
		var pairs [][2]string
		if err := json.Unmarshal([]byte(props[TablesConfig]), &pairs); err != nil || len(pairs) == 0 {
			return fmt.Errorf("%w: task configuration has no %q; the connector assigns them", connect.ErrConfig, TablesConfig)
		}
		for _, p := range pairs {
			tbl := tableID{schema: p[0], name: p[1]}
			q := &querier{
				table:     tbl,
				topic:     cfg.topicPrefix + tbl.name,
				partition: map[string]any{OffsetProtocolField: OffsetProtocolV1, TableField: t.db + "." + tbl.String()},
				legacy:    map[string]any{TableField: tbl.name},
			}
			if err := t.checkColumns(ctx, q); err != nil {
				return err
			}
			t.queriers = append(t.queriers, q)
		}
	}
	if err := t.loadOffsets(ctx); err != nil {
		return err
	}
	t.log.Info("Started PostgreSQL source task", "mode", cfg.mode, "queriers", len(t.queriers))
	return nil
}

func needsInc(mode string) bool { return mode == ModeIncrementing || mode == ModeTimestampIncrementing }
func needsTS(mode string) bool  { return mode == ModeTimestamp || mode == ModeTimestampIncrementing }

// reconnect (re)opens the task's connection.
func (t *SourceTask) reconnect(ctx context.Context) error {
	if t.conn != nil {
		t.conn.Close(context.Background())
		t.conn = nil
	}
	conn, err := t.cfg.conn.connect(ctx, t.log)
	if err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&t.db); err != nil {
		conn.Close(context.Background())
		return fmt.Errorf("%w: %v", ErrConnect, err)
	}
	t.conn = conn
	return nil
}

// checkColumns finds the incrementing column (the table's serial or
// identity column when none is configured) and, with validate.non.null,
// checks that the mode's columns are NOT NULL (Confluent's checks).
func (t *SourceTask) checkColumns(ctx context.Context, q *querier) error {
	if t.cfg.mode == ModeBulk {
		return nil
	}
	regclass := q.table.regclassLiteral(true)
	rows, err := t.conn.Query(ctx, `SELECT a.attname, a.attnotnull,
			a.attidentity <> '' OR COALESCE(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false)
		FROM pg_catalog.pg_attribute a
		LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped`, regclass)
	if err != nil {
		return explainSQL(err, t.conn.Config().User, q.table.String(), "SELECT")
	}
	type col struct {
		notNull, auto bool
	}
	cols := map[string]col{}
	var autos []string
	for rows.Next() {
		var name string
		var c col
		if err := rows.Scan(&name, &c.notNull, &c.auto); err != nil {
			rows.Close()
			return err
		}
		cols[name] = c
		if c.auto {
			autos = append(autos, name)
		}
	}
	if err := rows.Err(); err != nil {
		return explainSQL(err, t.conn.Config().User, q.table.String(), "SELECT")
	}
	if needsInc(t.cfg.mode) {
		q.incColumn = t.cfg.incrementing
		if q.incColumn == "" {
			if len(autos) != 1 {
				return fmt.Errorf("%w: table %s has %d serial or identity columns (%v) to use as the incrementing column; set %s",
					connect.ErrConfig, q.table, len(autos), autos, IncrementingColumnNameConfig)
			}
			q.incColumn = autos[0]
		}
		c, ok := cols[q.incColumn]
		if !ok {
			return fmt.Errorf("%w: incrementing column %q does not exist in table %s; fix %s", connect.ErrConfig, q.incColumn, q.table, IncrementingColumnNameConfig)
		}
		if t.cfg.validateNonNull && !c.notNull {
			return fmt.Errorf("%w: cannot make incremental queries using incrementing column %s on %s because this column is nullable; make it NOT NULL or set %s=false",
				connect.ErrConfig, q.incColumn, q.table, ValidateNonNullConfig)
		}
	}
	if needsTS(t.cfg.mode) {
		anyNotNull := false
		for _, name := range t.cfg.timestamps {
			c, ok := cols[name]
			if !ok {
				return fmt.Errorf("%w: timestamp column %q does not exist in table %s; fix %s", connect.ErrConfig, name, q.table, TimestampColumnNameConfig)
			}
			anyNotNull = anyNotNull || c.notNull
		}
		if t.cfg.validateNonNull && !anyNotNull {
			return fmt.Errorf("%w: cannot make incremental queries using timestamp columns %v on %s because all of these columns are nullable; make one NOT NULL or set %s=false",
				connect.ErrConfig, t.cfg.timestamps, q.table, ValidateNonNullConfig)
		}
	}
	return nil
}

// loadOffsets reads each querier's stored offset (the legacy partition's
// if the current one has none), or sets the initial timestamp.
func (t *SourceTask) loadOffsets(ctx context.Context) error {
	reader := t.ctx.OffsetStorageReader()
	var initial *time.Time
	if ti := t.cfg.timestampInitial; ti != nil && needsTS(t.cfg.mode) {
		var ts time.Time
		if *ti == timestampInitialCurrentSetting {
			if err := t.conn.QueryRow(ctx, "SELECT CURRENT_TIMESTAMP").Scan(&ts); err != nil {
				return fmt.Errorf("read the database's current time: %w", err)
			}
		} else {
			ts = time.UnixMilli(*ti)
		}
		initial = &ts
	}
	for _, q := range t.queriers {
		offset, err := reader.Offset(q.partition)
		if err != nil {
			return fmt.Errorf("read offsets: %w", err)
		}
		if offset == nil && q.legacy != nil {
			if offset, err = reader.Offset(q.legacy); err != nil {
				return fmt.Errorf("read offsets: %w", err)
			}
		}
		if offset != nil {
			if err := q.setOffset(offset); err != nil {
				return fmt.Errorf("stored offset of %v: %w", q.partition, err)
			}
			t.log.Info("Resuming from stored offset", "partition", q.partition, "offset", offset)
		} else if initial != nil {
			q.hasTS, q.ts = true, *initial
		}
	}
	return nil
}

// setOffset loads a stored offset.
func (q *querier) setOffset(offset map[string]any) error {
	if v, ok := offset[IncrementingField]; ok && v != nil {
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("%q is %T, not an integer", IncrementingField, v)
		}
		q.hasInc, q.inc = true, n
	}
	if v, ok := offset[TimestampField]; ok && v != nil {
		ms, ok := v.(int64)
		if !ok {
			return fmt.Errorf("%q is %T, not an integer", TimestampField, v)
		}
		var nanos int64
		if nv, ok := offset[TimestampNanosField].(int64); ok {
			nanos = nv
		} else {
			nanos = ((ms%1000 + 1000) % 1000) * int64(time.Millisecond)
		}
		q.hasTS, q.ts = true, timestampFromOffset(ms, nanos)
	}
	return nil
}

// timestampFromOffset is java.sql.Timestamp(ms) with setNanos(nanos): the
// second of ms plus nanos.
func timestampFromOffset(ms, nanos int64) time.Time {
	sec := ms / 1000
	if ms%1000 < 0 {
		sec--
	}
	return time.Unix(sec, nanos).UTC()
}

// timestampOffset is the offset fields of t, as Confluent writes them.
func timestampOffset(t time.Time, m map[string]any) {
	m[TimestampField] = t.UnixMilli()
	m[TimestampNanosField] = int64(t.Nanosecond())
}

// Poll returns the next rows: those of the open query, or of the first
// querier due, waiting until one is due.
func (t *SourceTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	for ctx.Err() == nil {
		q := t.active
		if q == nil {
			q = t.queriers[0]
			for _, o := range t.queriers[1:] {
				if o.next.Before(q.next) {
					q = o
				}
			}
			if wait := time.Until(q.next); wait > 0 {
				sleep(ctx, wait)
				return nil, nil
			}
			if t.conn == nil || t.conn.IsClosed() {
				if err := t.reconnect(ctx); err != nil {
					if ctx.Err() != nil {
						return nil, nil
					}
					t.log.Warn("Could not reconnect; will retry", "err", err)
					sleep(ctx, t.cfg.conn.backoff)
					return nil, nil
				}
			}
			if err := t.execute(ctx, q); err != nil {
				return nil, t.queryFailed(ctx, q, err)
			}
			t.active = q
		}
		records, done, err := t.read(q)
		if err != nil {
			return nil, t.queryFailed(ctx, q, err)
		}
		if done {
			q.rows.Close()
			q.rows, t.active = nil, nil
			q.next = time.Now().Add(t.cfg.pollInterval)
		}
		if len(records) > 0 {
			return records, nil
		}
	}
	return nil, nil
}

// queryFailed handles a failed query: a broken connection is retried
// (nil), anything else fails the task with an explanation.
func (t *SourceTask) queryFailed(ctx context.Context, q *querier, err error) error {
	if q.rows != nil {
		q.rows.Close()
		q.rows = nil
	}
	t.active = nil
	if ctx.Err() != nil {
		return nil
	}
	if isRetriable(err) || t.conn == nil || t.conn.IsClosed() {
		t.log.Warn("Query failed; will reconnect and retry", "table", q.table.String(), "err", err)
		if t.conn != nil {
			t.conn.Close(context.Background())
			t.conn = nil
		}
		q.next = time.Now().Add(t.cfg.conn.backoff)
		return nil
	}
	what := q.table.String()
	if what == "" {
		what = "the query"
	}
	return explainSQL(err, t.conn.Config().User, what, "SELECT")
}

// base is what the querier selects from.
func (t *SourceTask) base(q *querier) string {
	if t.cfg.query != "" {
		return "(" + t.cfg.query + ") AS gregor_query"
	}
	return q.table.sql(t.cfg.conn.quote)
}

// execute describes the querier's columns and starts its query.
func (t *SourceTask) execute(ctx context.Context, q *querier) error {
	quote := t.cfg.conn.quote
	sd, err := t.conn.Prepare(ctx, "", "SELECT * FROM "+t.base(q))
	if err != nil {
		return err
	}
	notNull := map[[2]uint32]bool{}
	if t.cfg.query == "" {
		var oids []uint32
		for _, f := range sd.Fields {
			if f.TableOID != 0 {
				oids = append(oids, f.TableOID)
			}
		}
		if len(oids) > 0 {
			rows, err := t.conn.Query(ctx, `SELECT attrelid::int8, attnum::int8, attnotnull FROM pg_catalog.pg_attribute
				WHERE attrelid = ANY($1::oid[]) AND attnum > 0`, oids)
			if err != nil {
				return err
			}
			for rows.Next() {
				var rel, num int64
				var nn bool
				if err := rows.Scan(&rel, &num, &nn); err != nil {
					rows.Close()
					return err
				}
				notNull[[2]uint32{uint32(rel), uint32(num)}] = nn
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	cols := make([]column, 0, len(sd.Fields)+2)
	exprs := make([]string, 0, len(sd.Fields)+2)
	name := q.table.name
	sb := connect.StructBuilder()
	if name != "" {
		sb = sb.Name(name)
	}
	for _, f := range sd.Fields {
		optional := !notNull[[2]uint32{f.TableOID, uint32(f.TableAttributeNumber)}]
		c := newColumn(f.Name, quoteIdent(f.Name, quote), f.DataTypeOID, f.TypeModifier, optional, t.cfg.numericMapping)
		cols = append(cols, c)
		exprs = append(exprs, c.expr)
		sb = sb.Field(c.name, c.schema)
	}
	schema, err := sb.Build()
	if err != nil {
		return fmt.Errorf("value schema of %s: %w", t.base(q), err)
	}
	if !schema.Equal(q.schema) {
		q.schema = schema
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var tsExpr, incExpr string
	if needsTS(t.cfg.mode) {
		parts := make([]string, len(t.cfg.timestamps))
		for i, c := range t.cfg.timestamps {
			parts[i] = quoteIdent(c, quote)
		}
		tsExpr = parts[0]
		if len(parts) > 1 {
			tsExpr = "COALESCE(" + strings.Join(parts, ", ") + ")"
		}
		exprs = append(exprs, "("+tsExpr+")::timestamptz AS gregor_offset_timestamp")
		where = append(where, tsExpr+" < CURRENT_TIMESTAMP - ("+arg(t.cfg.delay.Milliseconds())+"::bigint * interval '1 millisecond')")
	}
	if needsInc(t.cfg.mode) {
		incExpr = quoteIdent(q.incColumn, quote)
		exprs = append(exprs, "("+incExpr+")::int8 AS gregor_offset_incrementing")
	}
	var order string
	switch t.cfg.mode {
	case ModeIncrementing:
		if q.hasInc {
			where = append(where, incExpr+" > "+arg(q.inc))
		}
		order = incExpr + " ASC"
	case ModeTimestamp:
		if q.hasTS {
			where = append(where, tsExpr+" > "+arg(q.ts)+"::timestamptz")
		}
		order = tsExpr + " ASC"
	case ModeTimestampIncrementing:
		if q.hasTS {
			ts := arg(q.ts) + "::timestamptz"
			inc := int64(-1 << 63)
			if q.hasInc {
				inc = q.inc
			}
			where = append(where, "(("+tsExpr+" = "+ts+" AND "+incExpr+" > "+arg(inc)+") OR "+tsExpr+" > "+ts+")")
		}
		order = tsExpr + " ASC, " + incExpr + " ASC"
	}
	sql := "SELECT " + strings.Join(exprs, ", ") + " FROM " + t.base(q)
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	if order != "" {
		sql += " ORDER BY " + order
	}
	if t.cfg.querySuffix != "" {
		sql += " " + t.cfg.querySuffix
	}
	dsts := make([]any, 0, len(exprs))
	for _, c := range cols {
		dsts = append(dsts, scanTarget(c.kind))
	}
	if tsExpr != "" {
		dsts = append(dsts, new(pgtype.Timestamptz))
	}
	if incExpr != "" {
		dsts = append(dsts, new(pgtype.Int8))
	}
	t.log.Debug("Querying", "sql", sql)
	rows, err := t.conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	q.cols, q.dsts, q.rows = cols, dsts, rows
	return nil
}

// read turns up to batch.max.rows rows of q's open query into records;
// done reports that the query has no more rows.
func (t *SourceTask) read(q *querier) (records []*connect.SourceRecord, done bool, err error) {
	for len(records) < t.cfg.batchMaxRows {
		if !q.rows.Next() {
			if err := q.rows.Err(); err != nil {
				return nil, false, err
			}
			return records, true, nil
		}
		if err := q.rows.Scan(q.dsts...); err != nil {
			return nil, false, fmt.Errorf("read row of %s: %w", t.base(q), err)
		}
		value := connect.NewStruct(q.schema)
		for i := range q.cols {
			c := &q.cols[i]
			v, err := c.connectValue(q.dsts[i], t.cfg.loc)
			if err != nil {
				return nil, false, fmt.Errorf("read row of %s: %w", t.base(q), err)
			}
			value.Put(c.name, v)
		}
		if err := value.Err(); err != nil {
			return nil, false, fmt.Errorf("read row of %s: %w", t.base(q), err)
		}
		rec := &connect.SourceRecord{Record: connect.Record{Topic: q.topic, ValueSchema: q.schema, Value: value}}
		extra := q.dsts[len(q.cols):]
		if t.cfg.mode != ModeBulk {
			offset := map[string]any{}
			if needsTS(t.cfg.mode) {
				ts := extra[0].(*pgtype.Timestamptz)
				extra = extra[1:]
				if !ts.Valid || ts.InfinityModifier != pgtype.Finite {
					return nil, false, fmt.Errorf("%s: a row has no finite timestamp in %v (validate.non.null=false lets NULLs through, and they cannot be tracked)",
						t.base(q), t.cfg.timestamps)
				}
				q.hasTS, q.ts = true, ts.Time
				timestampOffset(ts.Time, offset)
			}
			if needsInc(t.cfg.mode) {
				inc := extra[0].(*pgtype.Int8)
				if !inc.Valid {
					return nil, false, fmt.Errorf("%s: a row has a NULL incrementing column %s", t.base(q), q.incColumn)
				}
				q.hasInc, q.inc = true, inc.Int64
				offset[IncrementingField] = inc.Int64
			}
			rec.SourcePartition, rec.SourceOffset = q.partition, offset
		}
		records = append(records, rec)
	}
	return records, false, nil
}

// Stop closes the connection.
func (t *SourceTask) Stop() error {
	if t.active != nil && t.active.rows != nil {
		t.active.rows.Close()
	}
	if t.conn != nil {
		err := t.conn.Close(context.Background())
		t.conn = nil
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
