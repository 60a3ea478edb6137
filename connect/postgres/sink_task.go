package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gregor-streaming/gregor/connect"
)

// SinkTask writes records to PostgreSQL: Confluent's JdbcSinkTask. Each
// Put is one transaction, so a Put either lands whole or not at all; its
// statements run in record order, sent batch.size at a time. Tables are
// created and evolved inside that transaction when auto.create and
// auto.evolve allow.
//
// An error PostgreSQL may get past (a broken connection, a deadlock, a
// serialization failure) makes Put return connect.ErrRetriable, and the
// worker delivers the same records again after retry.backoff.ms, up to
// max.retries times; other errors fail the task with a message saying
// what to fix.
type SinkTask struct {
	tctx connect.SinkTaskContext
	cfg  *sinkConfig
	log  *slog.Logger
	conn *pgx.Conn

	tables      map[tableID]*tableInfo // known destinations; cleared when a Put fails
	retriesLeft int
}

var _ connect.SinkTask = (*SinkTask)(nil)

// tableInfo is what the task knows about a destination table.
type tableInfo struct {
	columns map[string]bool
}

// fieldsMeta says how a record's key and value map to columns (Confluent's
// FieldsMetadata).
type fieldsMeta struct {
	keyFields    []string
	nonKeyFields []string
	schemas      map[string]*connect.Schema // column → schema
	primitiveKey bool
}

// Version returns connect.Version.
func (*SinkTask) Version() string { return connect.Version }

// Initialize keeps the context, for retry timeouts.
func (t *SinkTask) Initialize(ctx connect.SinkTaskContext) { t.tctx = ctx }

// Start parses the configuration and connects.
func (t *SinkTask) Start(props map[string]string) error {
	cfg, err := parseSinkConfig(props)
	if err != nil {
		return err
	}
	t.cfg = cfg
	t.log = slog.Default().With("connector", props["name"], "task", "PostgresSinkTask")
	t.tables = map[tableID]*tableInfo{}
	t.retriesLeft = cfg.maxRetries
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(cfg.conn.attempts)*cfg.conn.backoff)
	defer cancel()
	conn, err := cfg.conn.connect(ctx, t.log)
	if err != nil {
		return err
	}
	t.conn = conn
	return nil
}

// Put writes records in one transaction.
func (t *SinkTask) Put(records []*connect.SinkRecord) error {
	if len(records) == 0 {
		return nil
	}
	ctx := context.Background()
	err := t.write(ctx, records)
	if err == nil {
		t.retriesLeft = t.cfg.maxRetries
		return nil
	}
	t.tables = map[tableID]*tableInfo{} // DDL may have been rolled back
	if t.conn != nil && t.conn.IsClosed() {
		t.conn = nil
	}
	if isRetriable(err) && t.retriesLeft > 0 {
		t.retriesLeft--
		t.log.Warn("Write of records failed; will retry", "records", len(records), "remaining retries", t.retriesLeft, "err", err)
		if t.tctx != nil {
			t.tctx.Timeout(t.cfg.retryBackoff)
		}
		return fmt.Errorf("%w: %w", connect.ErrRetriable, err)
	}
	return err
}

// write runs one transaction for records.
func (t *SinkTask) write(ctx context.Context, records []*connect.SinkRecord) error {
	if t.conn == nil {
		conn, err := t.cfg.conn.connect(ctx, t.log)
		if err != nil {
			return err
		}
		t.conn = conn
	}
	tx, err := t.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	b := &pgx.Batch{}
	send := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := tx.SendBatch(ctx, b).Close()
		b = &pgx.Batch{}
		return err
	}
	metas := map[[3]any]*fieldsMeta{}
	for _, r := range records {
		table, err := t.destination(r.Topic)
		if err != nil {
			return err
		}
		tombstone := r.Value == nil
		if err := t.validate(r, tombstone); err != nil {
			return err
		}
		if tombstone && !t.cfg.deleteEnabled {
			t.log.Debug("Skipping tombstone: delete.enabled is false", "topic", r.Topic, "offset", r.KafkaOffset)
			continue
		}
		mk := [3]any{table, r.KeySchema, r.ValueSchema}
		meta, ok := metas[mk]
		if !ok {
			if meta, err = t.extract(table, r); err != nil {
				return err
			}
			metas[mk] = meta
		}
		info, err := t.table(ctx, tx, table)
		if err != nil {
			return err
		}
		if tombstone {
			if info == nil {
				continue // nothing to delete
			}
			sql, args, err := t.deleteSQL(table, meta, r)
			if err != nil {
				return err
			}
			b.Queue(sql, args...)
		} else {
			if info == nil || t.missing(info, meta) != nil {
				if err := send(); err != nil {
					return t.explain(err, table)
				}
				if info, err = t.createOrAmend(ctx, tx, table, info, meta); err != nil {
					return err
				}
			}
			sql, args, err := t.writeSQL(table, meta, r)
			if err != nil {
				return err
			}
			if sql != "" {
				b.Queue(sql, args...)
			}
		}
		if b.Len() >= t.cfg.batchSize {
			if err := send(); err != nil {
				return t.explain(err, table)
			}
		}
	}
	if err := send(); err != nil {
		return t.explain(err, tableID{})
	}
	return tx.Commit(ctx)
}

// explain adds what to do to a failed statement's error.
func (t *SinkTask) explain(err error, table tableID) error {
	name := table.String()
	if name == "" {
		name = "the destination table"
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "42501", "42P01":
			return explainSQL(err, t.conn.Config().User, name, "INSERT")
		case "42703":
			return fmt.Errorf("%w: %s (%s); enable %s or add the column: %w", ErrTableMismatch, name, pe.Message, AutoEvolveConfig, err)
		case "23505":
			if t.cfg.insertMode == InsertModeInsert {
				return fmt.Errorf("write to %s: %s; records that repeat a key (redelivered after a restart, or updates) need %s=upsert: %w",
					name, pe.Message, InsertModeConfig, err)
			}
		case "42P10":
			return fmt.Errorf("%w: %s (%s); %s=%s needs a primary key or unique constraint on the pk.fields columns: %w",
				ErrTableMismatch, name, pe.Message, InsertModeConfig, t.cfg.insertMode, err)
		}
	}
	return fmt.Errorf("write to %s: %w", name, err)
}

// destination is the table for topic (table.name.format).
func (t *SinkTask) destination(topic string) (tableID, error) {
	name := strings.ReplaceAll(t.cfg.tableNameFormat, "${topic}", topic)
	id := parseTableID(name)
	if id.name == "" {
		return tableID{}, fmt.Errorf("%w: destination table name for topic '%s' is empty using the format string '%s'",
			connect.ErrConfig, topic, t.cfg.tableNameFormat)
	}
	return id, nil
}

// validate checks that the record has what the configuration needs
// (Confluent's RecordValidator).
func (t *SinkTask) validate(r *connect.SinkRecord, tombstone bool) error {
	where := fmt.Sprintf("record at (topic='%s',partition=%d,offset=%d,timestamp=%d)", r.Topic, partitionOf(r), r.KafkaOffset, r.Timestamp.UnixMilli())
	needKey := t.cfg.pkMode == PKModeRecordKey || t.cfg.deleteEnabled
	needValue := t.cfg.pkMode == PKModeRecordValue || t.cfg.pkMode == PKModeNone
	configured := fmt.Sprintf("The sink connector '%s' is configured with '%s=%t' and '%s=%s'", t.cfg.name, DeleteEnabledConfig, t.cfg.deleteEnabled, PKModeConfig, t.cfg.pkMode)
	if needKey {
		switch {
		case r.Key == nil:
			return fmt.Errorf("%w: %s and therefore requires non-null record keys, but found %s with a null key", ErrRecord, configured, where)
		case r.KeySchema == nil:
			return fmt.Errorf("%w: %s and therefore requires non-null record keys with schemas, but found %s with a %T key and null key schema; use a converter that gives keys schemas (JsonConverter with key.converter.schemas.enable=true)",
				ErrRecord, configured, where, r.Key)
		case r.KeySchema.Type != connect.TypeStruct && !r.KeySchema.Type.IsPrimitive():
			return fmt.Errorf("%w: %s and therefore requires non-null record keys that are either structs or a single primitive value, but found %s with a %v key",
				ErrRecord, configured, where, r.KeySchema.Type)
		}
	}
	if tombstone {
		if needValue && !t.cfg.deleteEnabled {
			return fmt.Errorf("%w: %s and therefore requires non-null record values that are structs, but found %s with a null value", ErrRecord, configured, where)
		}
		return nil
	}
	switch {
	case r.ValueSchema == nil:
		return fmt.Errorf("%w: %s and therefore requires record values that are structs with schemas, but found %s with a %T value and null value schema; "+
			"Kafka's JDBC sink needs schemas too: use JsonConverter with value.converter.schemas.enable=true (records {\"schema\":…,\"payload\":…}), or another converter with schemas",
			ErrRecord, configured, where, r.Value)
	case r.ValueSchema.Type != connect.TypeStruct:
		return fmt.Errorf("%w: %s and therefore requires record values to be structs, but found %s with a %v value", ErrRecord, configured, where, r.ValueSchema.Type)
	}
	if _, ok := r.Value.(*connect.Struct); !ok {
		return fmt.Errorf("%w: %s has a STRUCT schema but a %T value", ErrRecord, where, r.Value)
	}
	return nil
}

func partitionOf(r *connect.SinkRecord) int32 {
	if r.KafkaPartition != nil {
		return *r.KafkaPartition
	}
	return r.OriginalKafkaPartition
}

// extract works out the columns of a record's key and value schemas
// (Confluent's FieldsMetadata.extract).
func (t *SinkTask) extract(table tableID, r *connect.SinkRecord) (*fieldsMeta, error) {
	m := &fieldsMeta{schemas: map[string]*connect.Schema{}}
	value := r.ValueSchema
	switch t.cfg.pkMode {
	case PKModeKafka:
		names := defaultKafkaPKNames
		if len(t.cfg.pkFields) > 0 {
			names = t.cfg.pkFields
		}
		m.keyFields = slices.Clone(names)
		m.schemas[names[0]] = connect.StringSchema
		m.schemas[names[1]] = connect.Int32Schema
		m.schemas[names[2]] = connect.Int64Schema
	case PKModeRecordKey:
		ks := r.KeySchema
		if ks.Type.IsPrimitive() {
			if len(t.cfg.pkFields) != 1 {
				return nil, fmt.Errorf("%w: need exactly one PK column defined since the key schema for records is a primitive type, defined columns are: %v; set %s to the column's name",
					connect.ErrConfig, t.cfg.pkFields, PKFieldsConfig)
			}
			m.primitiveKey = true
			m.keyFields = []string{t.cfg.pkFields[0]}
			m.schemas[t.cfg.pkFields[0]] = ks
		} else {
			names := t.cfg.pkFields
			if len(names) == 0 {
				for _, f := range ks.Fields {
					names = append(names, f.Name)
				}
			}
			for _, n := range names {
				f := ks.Field(n)
				if f == nil {
					return nil, fmt.Errorf("%w: PK mode for table '%s' is %s with configured PK fields %v, but record key schema does not contain field: %s",
						connect.ErrConfig, table, PKModeRecordKey, t.cfg.pkFields, n)
				}
				m.keyFields = append(m.keyFields, n)
				m.schemas[n] = f.Schema
			}
		}
	case PKModeRecordValue:
		names := t.cfg.pkFields
		if len(names) == 0 {
			for _, f := range value.Fields {
				names = append(names, f.Name)
			}
		}
		for _, n := range names {
			f := value.Field(n)
			if f == nil {
				return nil, fmt.Errorf("%w: PK mode for table '%s' is %s with configured PK fields %v, but record value schema does not contain field: %s",
					connect.ErrConfig, table, PKModeRecordValue, t.cfg.pkFields, n)
			}
			m.keyFields = append(m.keyFields, n)
			m.schemas[n] = f.Schema
		}
	}
	if value != nil {
		for _, f := range value.Fields {
			if slices.Contains(m.keyFields, f.Name) {
				continue
			}
			if t.cfg.fieldsWhitelist != nil && !t.cfg.fieldsWhitelist[f.Name] {
				continue
			}
			m.nonKeyFields = append(m.nonKeyFields, f.Name)
			m.schemas[f.Name] = f.Schema
		}
	}
	if len(m.keyFields)+len(m.nonKeyFields) == 0 {
		return nil, fmt.Errorf("%w: no fields found using key and value schemas for table: %s", ErrRecord, table)
	}
	return m, nil
}

// table returns what is known of table (nil if it does not exist),
// loading it on first use.
func (t *SinkTask) table(ctx context.Context, tx pgx.Tx, table tableID) (*tableInfo, error) {
	if info, ok := t.tables[table]; ok {
		return info, nil
	}
	var oid *uint32
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1)::oid", table.regclassLiteral(t.cfg.conn.quote)).Scan(&oid); err != nil {
		return nil, explainSQL(err, t.conn.Config().User, table.String(), "SELECT")
	}
	if oid == nil {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, *oid)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	info := &tableInfo{columns: map[string]bool{}}
	for _, n := range names {
		info.columns[n] = true
	}
	t.tables[table] = info
	return info, nil
}

// missing returns the record's columns the table lacks, in field order.
func (t *SinkTask) missing(info *tableInfo, meta *fieldsMeta) []string {
	var out []string
	for _, n := range slices.Concat(meta.keyFields, meta.nonKeyFields) {
		if !info.columns[n] {
			out = append(out, n)
		}
	}
	return out
}

// columnSpec is a column's definition for CREATE and ALTER.
func (t *SinkTask) columnSpec(name string, s *connect.Schema, withNotNull bool) (string, error) {
	typ, err := sqlType(s)
	if err != nil {
		return "", fmt.Errorf("column %s: %w", name, err)
	}
	spec := quoteIdent(name, t.cfg.conn.quote) + " " + typ
	if s.Default != nil {
		lit, err := sqlLiteral(s, s.Default, t.cfg.loc)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", name, err)
		}
		spec += " DEFAULT " + lit
	}
	if withNotNull && !s.Optional {
		spec += " NOT NULL"
	}
	return spec, nil
}

// createOrAmend creates the missing table (auto.create) or adds its
// missing columns (auto.evolve), in tx.
func (t *SinkTask) createOrAmend(ctx context.Context, tx pgx.Tx, table tableID, info *tableInfo, meta *fieldsMeta) (*tableInfo, error) {
	quote := t.cfg.conn.quote
	if info == nil {
		if !t.cfg.autoCreate {
			return nil, fmt.Errorf("%w: table %s is missing and auto-creation is disabled; create it or set %s=true",
				ErrTableMissing, table, AutoCreateConfig)
		}
		var specs []string
		for _, n := range slices.Concat(meta.keyFields, meta.nonKeyFields) {
			spec, err := t.columnSpec(n, meta.schemas[n], true)
			if err != nil {
				return nil, err
			}
			specs = append(specs, spec)
		}
		if len(meta.keyFields) > 0 {
			keys := make([]string, len(meta.keyFields))
			for i, k := range meta.keyFields {
				keys[i] = quoteIdent(k, quote)
			}
			specs = append(specs, "PRIMARY KEY("+strings.Join(keys, ",")+")")
		}
		sql := "CREATE TABLE IF NOT EXISTS " + table.sql(quote) + " (\n" + strings.Join(specs, ",\n") + ")"
		t.log.Info("Creating table", "table", table.String(), "sql", sql)
		if _, err := tx.Exec(ctx, sql); err != nil {
			return nil, explainSQL(err, t.conn.Config().User, table.String(), "CREATE")
		}
	} else {
		missing := t.missing(info, meta)
		if !t.cfg.autoEvolve {
			return nil, fmt.Errorf("%w: table %s is missing fields %v and auto-evolution is disabled; add the columns or set %s=true",
				ErrTableMismatch, table, missing, AutoEvolveConfig)
		}
		var adds []string
		for _, n := range missing {
			s := meta.schemas[n]
			if !s.Optional && s.Default == nil {
				return nil, fmt.Errorf("%w: cannot ALTER TABLE %s to add missing field %s, as the field is not optional and does not have a default value",
					ErrTableMismatch, table, n)
			}
			spec, err := t.columnSpec(n, s, true)
			if err != nil {
				return nil, err
			}
			adds = append(adds, "ADD "+spec)
		}
		sql := "ALTER TABLE " + table.sql(quote) + " " + strings.Join(adds, ", ")
		t.log.Info("Amending table to add missing fields", "table", table.String(), "fields", missing, "sql", sql)
		if _, err := tx.Exec(ctx, sql); err != nil {
			return nil, explainSQL(err, t.conn.Config().User, table.String(), "ALTER")
		}
	}
	delete(t.tables, table)
	info, err := t.table(ctx, tx, table)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, fmt.Errorf("%w: %s still missing after CREATE TABLE", ErrTableMissing, table)
	}
	return info, nil
}

// keyValues returns the primary key values of r, in meta.keyFields order.
func (t *SinkTask) keyValues(meta *fieldsMeta, r *connect.SinkRecord) ([]any, error) {
	out := make([]any, 0, len(meta.keyFields))
	switch t.cfg.pkMode {
	case PKModeKafka:
		return []any{r.Topic, partitionOf(r), r.KafkaOffset}, nil
	case PKModeRecordKey:
		if meta.primitiveKey {
			v, err := paramValue(r.KeySchema, r.Key, t.cfg.loc)
			return []any{v}, err
		}
		st, ok := r.Key.(*connect.Struct)
		if !ok {
			return nil, fmt.Errorf("%w: key has a STRUCT schema but a %T value", ErrRecord, r.Key)
		}
		for _, n := range meta.keyFields {
			v, err := paramValue(meta.schemas[n], st.Get(n), t.cfg.loc)
			if err != nil {
				return nil, fmt.Errorf("key field %s: %w", n, err)
			}
			out = append(out, v)
		}
	case PKModeRecordValue:
		st := r.Value.(*connect.Struct)
		for _, n := range meta.keyFields {
			v, err := paramValue(meta.schemas[n], st.Get(n), t.cfg.loc)
			if err != nil {
				return nil, fmt.Errorf("value field %s: %w", n, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// writeSQL returns the insert, upsert or update statement for r.
func (t *SinkTask) writeSQL(table tableID, meta *fieldsMeta, r *connect.SinkRecord) (string, []any, error) {
	quote := t.cfg.conn.quote
	keys, err := t.keyValues(meta, r)
	if err != nil {
		return "", nil, err
	}
	st := r.Value.(*connect.Struct)
	vals := make([]any, len(meta.nonKeyFields))
	for i, n := range meta.nonKeyFields {
		v, err := paramValue(meta.schemas[n], st.Get(n), t.cfg.loc)
		if err != nil {
			return "", nil, fmt.Errorf("field %s: %w", n, err)
		}
		vals[i] = v
	}
	q := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = quoteIdent(n, quote)
		}
		return out
	}
	keyCols, valCols := q(meta.keyFields), q(meta.nonKeyFields)
	placeholders := func(from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("$%d", from+i)
		}
		return out
	}
	switch t.cfg.insertMode {
	case InsertModeUpdate:
		if len(valCols) == 0 {
			return "", nil, nil // nothing to update
		}
		sets := make([]string, len(valCols))
		for i, c := range valCols {
			sets[i] = fmt.Sprintf("%s = $%d", c, i+1)
		}
		conds := make([]string, len(keyCols))
		for i, c := range keyCols {
			conds[i] = fmt.Sprintf("%s = $%d", c, len(valCols)+i+1)
		}
		return "UPDATE " + table.sql(quote) + " SET " + strings.Join(sets, ", ") + " WHERE " + strings.Join(conds, " AND "),
			append(vals, keys...), nil
	}
	cols := slices.Concat(keyCols, valCols)
	sql := "INSERT INTO " + table.sql(quote) + " (" + strings.Join(cols, ",") + ") VALUES (" +
		strings.Join(placeholders(1, len(cols)), ",") + ")"
	if t.cfg.insertMode == InsertModeUpsert {
		if len(keyCols) == 0 {
			return "", nil, fmt.Errorf("%w: write to table '%s' in UPSERT mode requires key field names to be known, check the primary key configuration", connect.ErrConfig, table)
		}
		sql += " ON CONFLICT (" + strings.Join(keyCols, ",") + ")"
		if len(valCols) == 0 {
			sql += " DO NOTHING"
		} else {
			sets := make([]string, len(valCols))
			for i, c := range valCols {
				sets[i] = c + "=EXCLUDED." + c
			}
			sql += " DO UPDATE SET " + strings.Join(sets, ",")
		}
	}
	return sql, append(keys, vals...), nil
}

// deleteSQL returns the DELETE of a tombstone's row.
func (t *SinkTask) deleteSQL(table tableID, meta *fieldsMeta, r *connect.SinkRecord) (string, []any, error) {
	keys, err := t.keyValues(meta, r)
	if err != nil {
		return "", nil, err
	}
	conds := make([]string, len(meta.keyFields))
	for i, c := range meta.keyFields {
		conds[i] = fmt.Sprintf("%s = $%d", quoteIdent(c, t.cfg.conn.quote), i+1)
	}
	return "DELETE FROM " + table.sql(t.cfg.conn.quote) + " WHERE " + strings.Join(conds, " AND "), keys, nil
}

// Flush does nothing: each Put committed its transaction.
func (t *SinkTask) Flush(map[connect.TopicPartition]int64) error { return nil }

// Stop closes the connection.
func (t *SinkTask) Stop() error {
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close(context.Background())
	t.conn = nil
	return err
}
