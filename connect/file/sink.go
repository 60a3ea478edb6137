package file

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/gregor-streaming/gregor/connect"
)

var sinkConfigDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: FileConfig, Type: connect.ConfigString, Default: nil, Importance: connect.ImportanceHigh,
		Documentation: "Destination filename. If not specified, the standard output will be used"})

// SinkConnector appends the records of its topics to a file (or standard
// output), one line per record: Kafka's
// org.apache.kafka.connect.file.FileStreamSinkConnector. Its topics come
// from the worker's "topics" or "topics.regex"; it runs tasks.max tasks.
type SinkConnector struct {
	props map[string]string
}

var _ connect.SinkConnector = (*SinkConnector)(nil)

// Version returns connect.Version.
func (*SinkConnector) Version() string { return connect.Version }

// Config describes file.
func (*SinkConnector) Config() *connect.ConfigDef { return sinkConfigDef }

// Start keeps the configuration.
func (c *SinkConnector) Start(props map[string]string) error {
	if _, err := sinkConfigDef.Parse(props); err != nil {
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

// AlterOffsets accepts any offsets: the file keeps none of its own.
func (*SinkConnector) AlterOffsets(map[string]string, map[connect.TopicPartition]int64) (bool, error) {
	return true, nil
}

// SinkTask appends each record's value as a line: Kafka's
// FileStreamSinkTask. The line is the value's string form
// (connect.FormatValue: a STRING as it is, a struct as "Struct{…}", a
// null value as "null"). Each Put is written to the file before it
// returns, so the offsets the worker commits after Flush are in the file
// (in the page cache: the task does not fsync, as Kafka's does not).
type SinkTask struct {
	filename string
	f        *os.File
	out      *bufio.Writer
}

var _ connect.SinkTask = (*SinkTask)(nil)

// Version returns connect.Version.
func (*SinkTask) Version() string { return connect.Version }

// Initialize does nothing: the task needs no context.
func (*SinkTask) Initialize(connect.SinkTaskContext) {}

// Start opens the file for appending, creating it if needed.
func (t *SinkTask) Start(props map[string]string) error {
	pc, err := sinkConfigDef.Parse(props)
	if err != nil {
		return err
	}
	t.filename = pc.GetString(FileConfig)
	var w io.Writer = os.Stdout
	if t.filename != "" {
		f, err := os.OpenFile(t.filename, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("Couldn't find or create file '%s' for FileStreamSinkTask: %w", t.filename, err)
		}
		t.f, w = f, f
	}
	t.out = bufio.NewWriter(w)
	return nil
}

// Put writes one line per record. The batch is written out before Put
// returns, as Kafka's task writes each line through to the file.
func (t *SinkTask) Put(records []*connect.SinkRecord) error {
	for _, r := range records {
		if _, err := t.out.WriteString(connect.FormatValue(r.Value) + "\n"); err != nil {
			return fmt.Errorf("write %s: %w", t.logName(), err)
		}
	}
	if err := t.out.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", t.logName(), err)
	}
	return nil
}

// Flush writes the buffered lines out.
func (t *SinkTask) Flush(map[connect.TopicPartition]int64) error {
	if err := t.out.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", t.logName(), err)
	}
	return nil
}

// Stop flushes and closes the file.
func (t *SinkTask) Stop() error {
	if t.out == nil {
		return nil
	}
	err := t.out.Flush()
	if t.f != nil {
		if cerr := t.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (t *SinkTask) logName() string {
	if t.filename == "" {
		return "stdout"
	}
	return t.filename
}
