package connect_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/converter"
)

// tickConfig is the connector's configuration: Kafka-style keys with
// types, defaults, validators and documentation.
var tickConfig = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: "topic", Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Validator: connect.NonEmptyString(), Importance: connect.ImportanceHigh, Documentation: "The topic to write ticks to."}).
	Define(connect.ConfigKey{Name: "ticks.per.poll", Type: connect.ConfigInt, Default: "2",
		Validator: connect.Between(1, 1000), Importance: connect.ImportanceLow, Documentation: "Records per poll."})

// tickSchema describes each record's value.
var tickSchema = connect.StructBuilder().Name("com.example.Tick").
	Field("n", connect.Int64Schema).
	Field("label", connect.OptionalStringSchema).
	MustBuild()

// TickConnector is a source connector that counts: each record carries the
// next number, and the number is the source offset, so a restarted task
// continues where the last stored offset left off.
type TickConnector struct{ props map[string]string }

func (*TickConnector) Version() string             { return "1.0" }
func (*TickConnector) Config() *connect.ConfigDef  { return tickConfig }
func (*TickConnector) Stop() error                 { return nil }
func (*TickConnector) NewTask() connect.SourceTask { return &TickTask{} }
func (c *TickConnector) Start(props map[string]string) error {
	if _, err := tickConfig.Parse(props); err != nil {
		return err
	}
	c.props = props
	return nil
}

// TaskConfigs runs one task: there is one counter.
func (c *TickConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}

// TickTask produces the ticks.
type TickTask struct {
	ctx     connect.SourceTaskContext
	topic   string
	perPoll int
	next    int64
}

var tickPartition = map[string]any{"counter": "ticks"}

func (*TickTask) Version() string                            { return "1.0" }
func (t *TickTask) Initialize(ctx connect.SourceTaskContext) { t.ctx = ctx }
func (*TickTask) Stop() error                                { return nil }

func (t *TickTask) Start(props map[string]string) error {
	cfg, err := tickConfig.Parse(props)
	if err != nil {
		return err
	}
	t.topic, t.perPoll = cfg.GetString("topic"), int(cfg.GetInt("ticks.per.poll"))
	// Resume after the last stored offset.
	offset, err := t.ctx.OffsetStorageReader().Offset(tickPartition)
	if err != nil {
		return err
	}
	if n, ok := offset["n"].(int64); ok {
		t.next = n + 1
	}
	return nil
}

func (t *TickTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	var out []*connect.SourceRecord
	for range t.perPoll {
		value := connect.NewStruct(tickSchema).Put("n", t.next).Put("label", "tick "+strconv.FormatInt(t.next, 10))
		if err := value.Validate(); err != nil {
			return nil, err
		}
		out = append(out, &connect.SourceRecord{
			SourcePartition: tickPartition,
			SourceOffset:    map[string]any{"n": t.next},
			Record:          connect.Record{Topic: t.topic, ValueSchema: tickSchema, Value: value},
		})
		t.next++
	}
	return out, nil
}

var registerTick sync.Once

// storedOffsets stands in for the worker's offset storage.
type storedOffsets map[string]any

func (s storedOffsets) Configs() map[string]string                       { return nil }
func (s storedOffsets) OffsetStorageReader() connect.OffsetStorageReader { return s }
func (s storedOffsets) Offset(map[string]any) (map[string]any, error)    { return s, nil }
func (s storedOffsets) Offsets(ps []map[string]any) ([]map[string]any, error) {
	out := make([]map[string]any, len(ps))
	for i := range ps {
		out[i] = s
	}
	return out, nil
}

// A source connector written with the SDK, registered as a plugin, and
// driven the way a worker drives it: configuration, task configurations, a
// task resuming from a stored offset, and its records converted by
// JsonConverter into what lands in Kafka.
func Example() {
	// A connector package registers its plugins from an init function;
	// here once per test process.
	registerTick.Do(func() {
		connect.RegisterPlugin(connect.Plugin{
			Class: "com.example.TickConnector", Type: connect.PluginSource, Version: "1.0",
			New: func() any { return &TickConnector{} },
		})
	})

	// A configuration names the plugin by class or alias ("Tick").
	p, err := connect.LookupPlugin("Tick")
	if err != nil {
		panic(err)
	}
	conn := p.New().(connect.SourceConnector)
	if err := conn.Start(map[string]string{"topic": "ticks"}); err != nil {
		panic(err)
	}
	configs, _ := conn.TaskConfigs(1)

	task := conn.NewTask()
	task.Initialize(storedOffsets{"n": int64(41)}) // the worker stored n=41 before a restart
	if err := task.Start(configs[0]); err != nil {
		panic(err)
	}
	records, _ := task.Poll(context.Background())

	json := converter.NewJsonConverter() // value.converter=org.apache.kafka.connect.json.JsonConverter
	for _, r := range records {
		b, _ := json.FromConnectData(r.Topic, r.ValueSchema, r.Value)
		fmt.Println(r.Topic, r.SourceOffset["n"], string(b))
	}

	// An invalid configuration fails as Kafka's ConfigException does.
	fmt.Println(conn.Start(map[string]string{"topic": "ticks", "ticks.per.poll": "0"}))
	// Output:
	// ticks 42 {"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"n"},{"type":"string","optional":true,"field":"label"}],"optional":false,"name":"com.example.Tick"},"payload":{"n":42,"label":"tick 42"}}
	// ticks 43 {"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"n"},{"type":"string","optional":true,"field":"label"}],"optional":false,"name":"com.example.Tick"},"payload":{"n":43,"label":"tick 43"}}
	// connect: invalid configuration: Invalid value 0 for configuration ticks.per.poll: Value must be at least 1
}
