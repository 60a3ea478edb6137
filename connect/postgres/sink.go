package postgres

import (
	"fmt"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// Sink configuration keys (Confluent's JDBC sink names).
const (
	InsertModeConfig      = "insert.mode"
	BatchSizeConfig       = "batch.size"
	DeleteEnabledConfig   = "delete.enabled"
	TableNameFormatConfig = "table.name.format"
	PKModeConfig          = "pk.mode"
	PKFieldsConfig        = "pk.fields"
	FieldsWhitelistConfig = "fields.whitelist"
	AutoCreateConfig      = "auto.create"
	AutoEvolveConfig      = "auto.evolve"
	MaxRetriesConfig      = "max.retries"
	RetryBackoffConfig    = "retry.backoff.ms"
)

// Insert modes and primary key modes.
const (
	InsertModeInsert = "insert"
	InsertModeUpsert = "upsert"
	InsertModeUpdate = "update"

	PKModeNone        = "none"
	PKModeKafka       = "kafka"
	PKModeRecordKey   = "record_key"
	PKModeRecordValue = "record_value"
)

// The primary key columns of pk.mode=kafka when pk.fields is empty.
var defaultKafkaPKNames = []string{"__connect_topic", "__connect_partition", "__connect_offset"}

var sinkConfigDef = defineConnection(connect.NewConfigDef()).
	Define(connect.ConfigKey{Name: InsertModeConfig, Type: connect.ConfigString, Default: InsertModeInsert,
		Validator:  connect.CaseInsensitiveIn(InsertModeInsert, InsertModeUpsert, InsertModeUpdate),
		Importance: connect.ImportanceHigh, Group: "Writes", OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Insert Mode",
		Documentation: "The insertion mode to use: insert (standard INSERT statements), upsert (INSERT … ON CONFLICT (pk) DO UPDATE, idempotent), update (UPDATE … WHERE pk = …)."}).
	Define(connect.ConfigKey{Name: BatchSizeConfig, Type: connect.ConfigInt, Default: 3000, Validator: connect.AtLeast(0),
		Importance: connect.ImportanceMedium, Group: "Writes", OrderInGroup: 2, Width: connect.WidthShort, DisplayName: "Batch Size",
		Documentation: "Specifies how many records to attempt to batch together for insertion into the destination table, when possible."}).
	Define(connect.ConfigKey{Name: DeleteEnabledConfig, Type: connect.ConfigBoolean, Default: false,
		Importance: connect.ImportanceMedium, Group: "Writes", OrderInGroup: 3, Width: connect.WidthShort, DisplayName: "Enable deletes",
		Documentation: "Whether to treat null record values as deletes. Requires pk.mode to be record_key."}).
	Define(connect.ConfigKey{Name: TableNameFormatConfig, Type: connect.ConfigString, Default: "${topic}", Validator: connect.NonEmptyString(),
		Importance: connect.ImportanceMedium, Group: "Data Mapping", OrderInGroup: 1, Width: connect.WidthLong, DisplayName: "Table Name Format",
		Documentation: "A format string for the destination table name, which may contain '${topic}' as a placeholder for the originating topic name. For example, kafka_${topic} for the topic 'orders' will map to the table name 'kafka_orders'; schema.table names a schema."}).
	Define(connect.ConfigKey{Name: PKModeConfig, Type: connect.ConfigString, Default: PKModeNone,
		Validator:  connect.CaseInsensitiveIn(PKModeNone, PKModeKafka, PKModeRecordKey, PKModeRecordValue),
		Importance: connect.ImportanceHigh, Group: "Data Mapping", OrderInGroup: 2, Width: connect.WidthMedium, DisplayName: "Primary Key Mode",
		Documentation: "The primary key mode: none (no keys), kafka (the Kafka coordinates: topic, partition, offset), record_key (field(s) of the record key; a primitive key is one column), record_value (field(s) of the record value)."}).
	Define(connect.ConfigKey{Name: PKFieldsConfig, Type: connect.ConfigList, Default: "",
		Importance: connect.ImportanceMedium, Group: "Data Mapping", OrderInGroup: 3, Width: connect.WidthLong, DisplayName: "Primary Key Fields",
		Documentation: "List of comma-separated primary key field names. kafka: three names for topic, partition and offset (default __connect_topic,__connect_partition,__connect_offset); record_key: the column of a primitive key, or which key fields (default all); record_value: which value fields (default all)."}).
	Define(connect.ConfigKey{Name: FieldsWhitelistConfig, Type: connect.ConfigList, Default: "",
		Importance: connect.ImportanceMedium, Group: "Data Mapping", OrderInGroup: 4, Width: connect.WidthLong, DisplayName: "Fields Whitelist",
		Documentation: "List of comma-separated record value field names. If empty, all fields from the record value are utilized, otherwise used to filter to the desired fields."}).
	Define(connect.ConfigKey{Name: AutoCreateConfig, Type: connect.ConfigBoolean, Default: false,
		Importance: connect.ImportanceMedium, Group: "DDL Support", OrderInGroup: 1, Width: connect.WidthShort, DisplayName: "Auto-Create",
		Documentation: "Whether to automatically create the destination table based on record schema if it is found to be missing by issuing CREATE."}).
	Define(connect.ConfigKey{Name: AutoEvolveConfig, Type: connect.ConfigBoolean, Default: false,
		Importance: connect.ImportanceMedium, Group: "DDL Support", OrderInGroup: 2, Width: connect.WidthShort, DisplayName: "Auto-Evolve",
		Documentation: "Whether to automatically add columns in the table schema when found to be missing relative to the record schema by issuing ALTER."}).
	Define(connect.ConfigKey{Name: TableTypesConfig, Type: connect.ConfigList, Default: "TABLE",
		Validator:  connect.ValidatorFunc{Func: validateTableTypes, Doc: "TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE, PARTITIONED TABLE"},
		Importance: connect.ImportanceLow, Group: "DDL Support", OrderInGroup: 3, Width: connect.WidthMedium, DisplayName: "Table Types",
		Documentation: "The types of destination the sink may write to; accepted for compatibility (PostgreSQL itself refuses writes a view cannot take)."}).
	Define(connect.ConfigKey{Name: MaxRetriesConfig, Type: connect.ConfigInt, Default: 10, Validator: connect.AtLeast(0),
		Importance: connect.ImportanceMedium, Group: "Retries", OrderInGroup: 1, Width: connect.WidthShort, DisplayName: "Maximum Retries",
		Documentation: "The maximum number of times to retry on errors before failing the task."}).
	Define(connect.ConfigKey{Name: RetryBackoffConfig, Type: connect.ConfigInt, Default: 3000, Validator: connect.AtLeast(0),
		Importance: connect.ImportanceMedium, Group: "Retries", OrderInGroup: 2, Width: connect.WidthShort, DisplayName: "Retry Backoff (millis)",
		Documentation: "The time in milliseconds to wait following an error before a retry attempt is made."})

// sinkConfig is a parsed sink configuration.
type sinkConfig struct {
	name            string
	conn            connConfig
	insertMode      string
	batchSize       int
	deleteEnabled   bool
	tableNameFormat string
	pkMode          string
	pkFields        []string
	fieldsWhitelist map[string]bool // nil: all
	autoCreate      bool
	autoEvolve      bool
	maxRetries      int
	retryBackoff    time.Duration
	loc             *time.Location
}

// crossCheckSink checks the combinations Confluent's sink refuses.
func crossCheckSink(pc *connect.ParsedConfig) []keyError {
	var errs []keyError
	pk := strings.ToLower(pc.GetString(PKModeConfig))
	if pc.GetBool(DeleteEnabledConfig) && pk != PKModeRecordKey {
		errs = append(errs, keyError{DeleteEnabledConfig, fmt.Sprintf("Deletes are only supported for %s=%s (the key of a tombstone says which row to delete), not %s",
			PKModeConfig, PKModeRecordKey, pk)})
	}
	mode := strings.ToLower(pc.GetString(InsertModeConfig))
	if (mode == InsertModeUpsert || mode == InsertModeUpdate) && pk == PKModeNone {
		errs = append(errs, keyError{PKModeConfig, fmt.Sprintf("%s=%s needs a primary key: set %s to kafka, record_key or record_value",
			InsertModeConfig, mode, PKModeConfig)})
	}
	if pk == PKModeKafka {
		if n := len(pc.GetList(PKFieldsConfig)); n != 0 && n != 3 {
			errs = append(errs, keyError{PKFieldsConfig, fmt.Sprintf("PK mode for table is %s so there should either be no field names defined for defaults %v to be applicable, or exactly 3, defined fields are: %v",
				PKModeKafka, defaultKafkaPKNames, pc.GetList(PKFieldsConfig))})
		}
	}
	return errs
}

func parseSinkConfig(props map[string]string) (*sinkConfig, error) {
	pc, err := sinkConfigDef.Parse(props)
	if err != nil {
		return nil, err
	}
	for _, e := range crossCheckSink(pc) {
		return nil, fmt.Errorf("%w: %s", connect.ErrConfig, e.msg)
	}
	cc, err := newConnConfig(pc)
	if err != nil {
		return nil, err
	}
	c := &sinkConfig{
		name:            props["name"],
		conn:            cc,
		insertMode:      strings.ToLower(pc.GetString(InsertModeConfig)),
		batchSize:       int(pc.GetInt(BatchSizeConfig)),
		deleteEnabled:   pc.GetBool(DeleteEnabledConfig),
		tableNameFormat: pc.GetString(TableNameFormatConfig),
		pkMode:          strings.ToLower(pc.GetString(PKModeConfig)),
		pkFields:        pc.GetList(PKFieldsConfig),
		autoCreate:      pc.GetBool(AutoCreateConfig),
		autoEvolve:      pc.GetBool(AutoEvolveConfig),
		maxRetries:      int(pc.GetInt(MaxRetriesConfig)),
		retryBackoff:    time.Duration(pc.GetInt(RetryBackoffConfig)) * time.Millisecond,
	}
	if l := pc.GetList(FieldsWhitelistConfig); len(l) > 0 {
		c.fieldsWhitelist = map[string]bool{}
		for _, f := range l {
			c.fieldsWhitelist[f] = true
		}
	}
	if c.batchSize == 0 {
		c.batchSize = 1
	}
	c.loc, _ = time.LoadLocation(cc.timezone)
	return c, nil
}

// SinkConnector writes records into PostgreSQL tables: Confluent's
// JdbcSinkConnector for PostgreSQL. It runs tasks.max tasks, each with
// its own connection; the worker spreads the topics' partitions among
// them.
type SinkConnector struct {
	props map[string]string
}

var (
	_ connect.SinkConnector   = (*SinkConnector)(nil)
	_ connect.ConfigValidator = (*SinkConnector)(nil)
)

// Version returns connect.Version.
func (*SinkConnector) Version() string { return connect.Version }

// Config describes the sink's keys.
func (*SinkConnector) Config() *connect.ConfigDef { return sinkConfigDef }

// Validate checks each key, then the combinations: deletes need
// pk.mode=record_key, upsert and update need a primary key.
func (*SinkConnector) Validate(props map[string]string) []connect.ConfigValue {
	return validateWith(sinkConfigDef, props, crossCheckSink)
}

// Start checks the configuration.
func (c *SinkConnector) Start(props map[string]string) error {
	if _, err := parseSinkConfig(props); err != nil {
		return err
	}
	c.props = props
	return nil
}

// TaskConfigs returns maxTasks copies of the configuration.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = c.props
	}
	return out, nil
}

// Stop does nothing: the connector has no background work.
func (*SinkConnector) Stop() error { return nil }

// NewTask returns a SinkTask.
func (*SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

// AlterOffsets accepts any offsets: the sink keeps none in the database.
func (*SinkConnector) AlterOffsets(map[string]string, map[connect.TopicPartition]int64) (bool, error) {
	return true, nil
}
