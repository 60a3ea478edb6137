package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// Change data capture: a Debezium-style PostgreSQL source that reads a
// consistent snapshot of the tables, then streams every insert, update
// and delete from a logical replication slot with PostgreSQL's built-in
// pgoutput plugin (no server extension needed). It takes Debezium's
// configuration names and writes Debezium's change event envelope:
//
//	topic  <topic.prefix>.<schema>.<table>
//	key    {pk columns}                               <prefix>.<schema>.<table>.Key
//	value  {before, after, source, op, ts_ms, transaction}  <prefix>.<schema>.<table>.Envelope
//	       op: r (snapshot read), c (insert), u (update), d (delete)
//
// followed, for a delete, by a tombstone (tombstones.on.delete). The
// source partition is {"server": topic.prefix}; the offset records the
// change's position in the WAL:
//
//	{"lsn": L, "lsn_commit": C, "lsn_flush": F, "txId": X, "ts_usec": T}
//	{"lsn": L, "lsn_flush": L, "snapshot": true, "last_snapshot_record": B}   (snapshot)
//
// F is the end of the last transaction wholly before (or ending with)
// the record; once the worker has stored an offset the task confirms F to
// the slot, so PostgreSQL can recycle the WAL before it. After a restart
// streaming resumes at the stored F and skips the changes up to (C, L)
// that Kafka already has.

// Class names of the CDC connector.
const (
	CDCConnectorClass      = "io.gregor.connect.postgres.PostgresCdcSourceConnector"
	CDCTaskClass           = "io.gregor.connect.postgres.PostgresCdcSourceTask"
	DebeziumConnectorClass = "io.debezium.connector.postgresql.PostgresConnector"
	DebeziumTaskClass      = "io.debezium.connector.postgresql.PostgresConnectorTask"
)

func init() {
	connect.RegisterPlugin(connect.Plugin{Class: CDCConnectorClass, Type: connect.PluginSource, Version: connect.Version,
		TaskClass: CDCTaskClass, New: func() any { return &CDCSourceConnector{} }})
	connect.RegisterPlugin(connect.Plugin{Class: DebeziumConnectorClass, Type: connect.PluginSource, Version: connect.Version,
		TaskClass: DebeziumTaskClass, New: func() any { return &CDCSourceConnector{} }})
}

// CDC configuration keys (Debezium's names).
const (
	DatabaseHostnameConfig    = "database.hostname"
	DatabasePortConfig        = "database.port"
	DatabaseUserConfig        = "database.user"
	DatabasePasswordConfig    = "database.password"
	DatabaseDBNameConfig      = "database.dbname"
	DatabaseSSLModeConfig     = "database.sslmode"
	PluginNameConfig          = "plugin.name"
	SlotNameConfig            = "slot.name"
	SlotDropOnStopConfig      = "slot.drop.on.stop"
	PublicationNameConfig     = "publication.name"
	PublicationAutocreateMode = "publication.autocreate.mode"
	SnapshotModeConfig        = "snapshot.mode"
	TombstonesOnDeleteConfig  = "tombstones.on.delete"
	StatusUpdateIntervalCfg   = "status.update.interval.ms"
	MaxBatchSizeConfig        = "max.batch.size"
	CDCPollIntervalConfig     = "poll.interval.ms"
	// TableIncludeListConfig and TableExcludeListConfig are shared with
	// the polling source; for CDC they are regular expressions matched
	// against schema.table, as Debezium's.
)

// Snapshot modes.
const (
	SnapshotInitial = "initial"
	SnapshotNever   = "never"
	SnapshotNoData  = "no_data"
)

// Offset and partition keys of the CDC source.
const (
	ServerField             = "server"
	LSNField                = "lsn"
	LSNCommitField          = "lsn_commit"
	LSNFlushField           = "lsn_flush"
	TxIDField               = "txId"
	TsUsecField             = "ts_usec"
	SnapshotField           = "snapshot"
	LastSnapshotRecordField = "last_snapshot_record"
)

var cdcConfigDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: DatabaseHostnameConfig, Type: connect.ConfigString, Default: connect.NoDefaultValue, Validator: connect.NonEmptyString(),
		Importance: connect.ImportanceHigh, Group: "Connection", OrderInGroup: 1, Documentation: "Resolvable hostname or IP address of the database server."}).
	Define(connect.ConfigKey{Name: DatabasePortConfig, Type: connect.ConfigInt, Default: 5432, Validator: connect.Between(1, 65535),
		Importance: connect.ImportanceHigh, Group: "Connection", OrderInGroup: 2, Documentation: "Port of the database server."}).
	Define(connect.ConfigKey{Name: DatabaseUserConfig, Type: connect.ConfigString, Default: connect.NoDefaultValue, Validator: connect.NonEmptyString(),
		Importance: connect.ImportanceHigh, Group: "Connection", OrderInGroup: 3, Documentation: "Name of the database user, which needs the REPLICATION attribute (and to create the publication, ownership of the tables or superuser)."}).
	Define(connect.ConfigKey{Name: DatabasePasswordConfig, Type: connect.ConfigPassword, Default: nil,
		Importance: connect.ImportanceHigh, Group: "Connection", OrderInGroup: 4, Documentation: "Password of the database user."}).
	Define(connect.ConfigKey{Name: DatabaseDBNameConfig, Type: connect.ConfigString, Default: connect.NoDefaultValue, Validator: connect.NonEmptyString(),
		Importance: connect.ImportanceHigh, Group: "Connection", OrderInGroup: 5, Documentation: "The name of the database from which to stream the changes."}).
	Define(connect.ConfigKey{Name: DatabaseSSLModeConfig, Type: connect.ConfigString, Default: "prefer",
		Validator:  connect.In("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
		Importance: connect.ImportanceMedium, Group: "Connection", OrderInGroup: 6, Documentation: "Whether to use an encrypted connection to the PostgreSQL server."}).
	Define(connect.ConfigKey{Name: TopicPrefixConfig, Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Validator:  connect.ValidatorFunc{Func: validateTopicPrefix, Doc: "letters, digits, '.', '_', '-'"},
		Importance: connect.ImportanceHigh, Group: "Connector", OrderInGroup: 1, Documentation: "Topic prefix that identifies and provides a namespace for the particular database server; topics are <prefix>.<schema>.<table>."}).
	Define(connect.ConfigKey{Name: PluginNameConfig, Type: connect.ConfigString, Default: "pgoutput", Validator: connect.In("pgoutput"),
		Importance: connect.ImportanceMedium, Group: "Connector", OrderInGroup: 2, Documentation: "The name of the logical decoding plugin; only PostgreSQL's built-in pgoutput is supported."}).
	Define(connect.ConfigKey{Name: SlotNameConfig, Type: connect.ConfigString, Default: "debezium",
		Validator:  connect.ValidatorFunc{Func: validateSlotName, Doc: "lower case letters, digits and underscores"},
		Importance: connect.ImportanceMedium, Group: "Connector", OrderInGroup: 3, Documentation: "The name of the PostgreSQL logical decoding slot."}).
	Define(connect.ConfigKey{Name: SlotDropOnStopConfig, Type: connect.ConfigBoolean, Default: false,
		Importance: connect.ImportanceLow, Group: "Connector", OrderInGroup: 4, Documentation: "Whether to drop the logical replication slot when the connector stops (for testing only: changes made while it is stopped are lost)."}).
	Define(connect.ConfigKey{Name: PublicationNameConfig, Type: connect.ConfigString, Default: "dbz_publication", Validator: connect.NonEmptyString(),
		Importance: connect.ImportanceMedium, Group: "Connector", OrderInGroup: 5, Documentation: "The name of the PostgreSQL publication to stream changes from."}).
	Define(connect.ConfigKey{Name: PublicationAutocreateMode, Type: connect.ConfigString, Default: "all_tables",
		Validator:  connect.In("all_tables", "disabled", "filtered"),
		Importance: connect.ImportanceLow, Group: "Connector", OrderInGroup: 6, Documentation: "all_tables: create the publication FOR ALL TABLES if it does not exist; filtered: for the tables table.include.list selects; disabled: it must exist."}).
	Define(connect.ConfigKey{Name: TableIncludeListConfig, Type: connect.ConfigList, Default: "",
		Importance: connect.ImportanceMedium, Group: "Filters", OrderInGroup: 1, Documentation: "Regular expressions matching the schema.table names to capture (default all)."}).
	Define(connect.ConfigKey{Name: TableExcludeListConfig, Type: connect.ConfigList, Default: "",
		Importance: connect.ImportanceMedium, Group: "Filters", OrderInGroup: 2, Documentation: "Regular expressions matching the schema.table names not to capture."}).
	Define(connect.ConfigKey{Name: SnapshotModeConfig, Type: connect.ConfigString, Default: SnapshotInitial,
		Validator:  connect.In(SnapshotInitial, SnapshotNever, SnapshotNoData),
		Importance: connect.ImportanceMedium, Group: "Connector", OrderInGroup: 7, Documentation: "initial: read the tables when there are no offsets, then stream; never / no_data: only stream changes."}).
	Define(connect.ConfigKey{Name: TombstonesOnDeleteConfig, Type: connect.ConfigBoolean, Default: true,
		Importance: connect.ImportanceMedium, Group: "Connector", OrderInGroup: 8, Documentation: "Whether a delete event is followed by a tombstone (null value) for log compaction."}).
	Define(connect.ConfigKey{Name: StatusUpdateIntervalCfg, Type: connect.ConfigInt, Default: 10000, Validator: connect.AtLeast(1),
		Importance: connect.ImportanceLow, Group: "Connector", OrderInGroup: 9, Documentation: "Frequency in milliseconds of the status updates (the confirmed position) sent to the server."}).
	Define(connect.ConfigKey{Name: MaxBatchSizeConfig, Type: connect.ConfigInt, Default: 2048, Validator: connect.AtLeast(1),
		Importance: connect.ImportanceLow, Group: "Connector", OrderInGroup: 10, Documentation: "Maximum size of each batch of events returned by a poll."}).
	Define(connect.ConfigKey{Name: CDCPollIntervalConfig, Type: connect.ConfigInt, Default: 500, Validator: connect.AtLeast(1),
		Importance: connect.ImportanceLow, Group: "Connector", OrderInGroup: 11, Documentation: "How long a poll waits for changes before returning none."})

var topicPrefixChars = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func validateTopicPrefix(name string, value any) error {
	s, _ := value.(string)
	if !topicPrefixChars.MatchString(s) {
		return connect.ConfigError(name, value, "Topic prefix may contain only letters, digits, '.', '_' and '-'")
	}
	return nil
}

var slotChars = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

func validateSlotName(name string, value any) error {
	s, _ := value.(string)
	if !slotChars.MatchString(s) {
		return connect.ConfigError(name, value, "Valid replication slot name must contain only digits, lowercase characters and underscores with length <= 63")
	}
	return nil
}

// cdcConfig is a parsed CDC configuration.
type cdcConfig struct {
	conn           connConfig
	prefix         string
	slot           string
	dropSlot       bool
	publication    string
	autocreate     string
	include        []*regexp.Regexp
	exclude        []*regexp.Regexp
	snapshotMode   string
	tombstones     bool
	statusInterval time.Duration
	batch          int
	poll           time.Duration
	loc            *time.Location
}

func parseCDCConfig(props map[string]string) (*cdcConfig, error) {
	pc, err := cdcConfigDef.Parse(props)
	if err != nil {
		return nil, err
	}
	u := url.URL{
		Scheme: "postgres",
		Host:   net.JoinHostPort(pc.GetString(DatabaseHostnameConfig), strconv.Itoa(int(pc.GetInt(DatabasePortConfig)))),
		Path:   "/" + pc.GetString(DatabaseDBNameConfig),
	}
	u.RawQuery = url.Values{"sslmode": {pc.GetString(DatabaseSSLModeConfig)}}.Encode()
	c := &cdcConfig{
		conn: connConfig{
			url: u.String(), display: u.String(),
			user: pc.GetString(DatabaseUserConfig), password: pc.GetPassword(DatabasePasswordConfig).Value(),
			attempts: 3, backoff: time.Second, timezone: "UTC", quote: true,
		},
		prefix:         pc.GetString(TopicPrefixConfig),
		slot:           pc.GetString(SlotNameConfig),
		dropSlot:       pc.GetBool(SlotDropOnStopConfig),
		publication:    pc.GetString(PublicationNameConfig),
		autocreate:     pc.GetString(PublicationAutocreateMode),
		snapshotMode:   pc.GetString(SnapshotModeConfig),
		tombstones:     pc.GetBool(TombstonesOnDeleteConfig),
		statusInterval: time.Duration(pc.GetInt(StatusUpdateIntervalCfg)) * time.Millisecond,
		batch:          int(pc.GetInt(MaxBatchSizeConfig)),
		poll:           time.Duration(pc.GetInt(CDCPollIntervalConfig)) * time.Millisecond,
		loc:            time.UTC,
	}
	for _, l := range []struct {
		key string
		out *[]*regexp.Regexp
	}{{TableIncludeListConfig, &c.include}, {TableExcludeListConfig, &c.exclude}} {
		for _, p := range pc.GetList(l.key) {
			re, err := regexp.Compile("^(?:" + p + ")$")
			if err != nil {
				return nil, fmt.Errorf("%w: %s", connect.ErrConfig, connect.ConfigError(l.key, p, err.Error()))
			}
			*l.out = append(*l.out, re)
		}
	}
	return c, nil
}

// captures reports whether the table is selected by the include and
// exclude lists.
func (c *cdcConfig) captures(t tableID) bool {
	name := t.schema + "." + t.name
	if len(c.include) > 0 {
		ok := false
		for _, re := range c.include {
			ok = ok || re.MatchString(name)
		}
		if !ok {
			return false
		}
	}
	for _, re := range c.exclude {
		if re.MatchString(name) {
			return false
		}
	}
	return true
}

// CDCSourceConnector captures a database's row changes: Debezium's
// io.debezium.connector.postgresql.PostgresConnector with pgoutput. It
// runs one task, as Debezium's does.
type CDCSourceConnector struct {
	props map[string]string
}

var _ connect.SourceConnector = (*CDCSourceConnector)(nil)

// Version returns connect.Version.
func (*CDCSourceConnector) Version() string { return connect.Version }

// Config describes Debezium's keys this connector takes.
func (*CDCSourceConnector) Config() *connect.ConfigDef { return cdcConfigDef }

// Start checks the configuration and that the server can be reached
// with logical decoding enabled.
func (c *CDCSourceConnector) Start(props map[string]string) error {
	cfg, err := parseCDCConfig(props)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := cfg.conn.connect(ctx, slog.Default())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("read wal_level: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("%w: PostgreSQL's wal_level is %q; change data capture needs wal_level=logical in postgresql.conf (and a restart of the server)", ErrConnect, level)
	}
	c.props = props
	return nil
}

// TaskConfigs returns one task configuration.
func (c *CDCSourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}

// Stop does nothing: the connector has no background work.
func (*CDCSourceConnector) Stop() error { return nil }

// NewTask returns a CDCSourceTask.
func (*CDCSourceConnector) NewTask() connect.SourceTask { return &CDCSourceTask{} }

// parseLSN parses PostgreSQL's "X/Y" LSN notation.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("invalid LSN %q", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("invalid LSN %q", s)
	}
	return h<<32 | l, nil
}

// formatLSN formats an LSN as PostgreSQL does.
func formatLSN(lsn uint64) string { return fmt.Sprintf("%X/%X", lsn>>32, uint32(lsn)) }
