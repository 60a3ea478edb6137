package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// Configuration keys of the FileStream connectors (Kafka's names).
const (
	FileConfig      = "file"
	TopicConfig     = "topic"
	BatchSizeConfig = "batch.size"

	// DefaultBatchSize is batch.size's default.
	DefaultBatchSize = 2000
)

// Source partition and offset keys: the partition is {"filename": FILE}
// and the offset {"position": BYTES}, as Kafka's FileStreamSourceTask.
const (
	FilenameField = "filename"
	PositionField = "position"
)

// pollWait is how long Poll waits for more data when there is none (Kafka
// waits one second).
var pollWait = time.Second

var sourceConfigDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: FileConfig, Type: connect.ConfigString, Default: nil, Importance: connect.ImportanceHigh,
		Documentation: "Source filename. If not specified, the standard input will be used"}).
	Define(connect.ConfigKey{Name: TopicConfig, Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Validator: connect.NonEmptyString(), Importance: connect.ImportanceHigh,
		Documentation: "The topic to publish data to"}).
	Define(connect.ConfigKey{Name: BatchSizeConfig, Type: connect.ConfigInt, Default: DefaultBatchSize, Importance: connect.ImportanceLow,
		Documentation: "The maximum number of records the source task can read from the file each time it is polled"})

// SourceConnector reads lines from a file (or standard input) into a
// topic: Kafka's org.apache.kafka.connect.file.FileStreamSourceConnector.
// It runs one task whatever tasks.max says.
type SourceConnector struct {
	props map[string]string
}

var _ connect.SourceConnector = (*SourceConnector)(nil)

// Version returns connect.Version.
func (*SourceConnector) Version() string { return connect.Version }

// Config describes file, topic and batch.size.
func (*SourceConnector) Config() *connect.ConfigDef { return sourceConfigDef }

// Start checks the configuration.
func (c *SourceConnector) Start(props map[string]string) error {
	pc, err := sourceConfigDef.Parse(props)
	if err != nil {
		return err
	}
	c.props = props
	name := pc.GetString(FileConfig)
	if name == "" {
		name = "standard input"
	}
	slog.Default().Info("Starting file source connector", "file", name)
	return nil
}

// TaskConfigs returns one task configuration: only one reader of a stream
// makes sense.
func (c *SourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}

// Stop does nothing: the connector has no background work.
func (*SourceConnector) Stop() error { return nil }

// NewTask returns a SourceTask.
func (*SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }

// AlterOffsets checks offsets set through the REST API (KIP-875): each
// partition must name a file and each offset must be a non-negative
// position, or nil to remove it. Reading from standard input keeps no
// offsets, so they cannot be altered.
func (*SourceConnector) AlterOffsets(config map[string]string, partitions, offsets []map[string]any) (bool, error) {
	if config[FileConfig] == "" {
		return false, fmt.Errorf("Offsets cannot be modified if the '%s' configuration is unspecified. This is because stdin is used for input and offsets are not tracked.", FileConfig)
	}
	for i, offset := range offsets {
		if offset == nil {
			continue // tombstones clean up anything
		}
		pos, ok := offset[PositionField]
		if !ok {
			return false, fmt.Errorf("Offset objects should either be null or contain the key '%s'", PositionField)
		}
		n, ok := pos.(int64)
		if !ok {
			return false, fmt.Errorf("The value for the '%s' key in the offset is expected to be a Long value", PositionField)
		}
		if n < 0 {
			return false, fmt.Errorf("The value for the '%s' key in the offset should be a non-negative value", PositionField)
		}
		if partitions[i] == nil {
			return false, errors.New("Partition objects cannot be null")
		}
		if _, ok := partitions[i][FilenameField]; !ok {
			return false, fmt.Errorf("Partition objects should contain the key '%s'", FilenameField)
		}
	}
	return true, nil
}

// SourceTask reads the lines of one file: Kafka's FileStreamSourceTask.
//
// A line ends at "\n", "\r\n" or "\r"; the line is the record's STRING
// value, without key. The source offset is the byte position just after
// the line, so a restarted task resumes after the last line Kafka
// acknowledged. The task follows the file as lines are appended; a
// trailing partial line waits for its end of line. A file that does not
// exist yet is waited for. Reading standard input (no "file") keeps no
// offsets.
type SourceTask struct {
	ctx       connect.SourceTaskContext
	filename  string
	topic     string
	batchSize int

	in     *os.File
	stdin  bool
	buf    []byte
	pos    int64 // byte position of buf[0] in the file
	chunk  []byte
	logger *slog.Logger
}

var _ connect.SourceTask = (*SourceTask)(nil)

// Version returns connect.Version.
func (*SourceTask) Version() string { return connect.Version }

// Initialize keeps the task context.
func (t *SourceTask) Initialize(ctx connect.SourceTaskContext) { t.ctx = ctx }

// Start reads the configuration.
func (t *SourceTask) Start(props map[string]string) error {
	t.filename = props[FileConfig]
	t.topic = props[TopicConfig]
	if t.topic == "" {
		return errors.New("FileStreamSourceTask config missing topic setting")
	}
	t.batchSize = DefaultBatchSize
	if s, ok := props[BatchSizeConfig]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("Invalid FileStreamSourceTask configuration: batch.size %q", s)
		}
		t.batchSize = n
	}
	t.logger = slog.Default().With("task", "FileStreamSourceTask", "file", t.logName())
	if t.filename == "" {
		t.in, t.stdin = os.Stdin, true
	}
	t.chunk = make([]byte, 64<<10)
	return nil
}

func (t *SourceTask) logName() string {
	if t.filename == "" {
		return "stdin"
	}
	return t.filename
}

// Poll returns up to batch.size lines, waiting up to a second for data
// when there is none.
func (t *SourceTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if t.in == nil {
		if err := t.open(); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				t.logger.Warn("Couldn't find file for FileStreamSourceTask, sleeping to wait for it to be created")
				wait(ctx, pollWait)
				return nil, nil
			}
			return nil, err
		}
	}
	var records []*connect.SourceRecord
	records = t.extract(records)
	for len(records) < t.batchSize {
		n, err := t.read()
		if n > 0 {
			t.buf = append(t.buf, t.chunk[:n]...)
			records = t.extract(records)
		}
		if err != nil || n == 0 {
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
				return records, fmt.Errorf("read %s: %w", t.logName(), err)
			}
			break
		}
	}
	if len(records) == 0 {
		wait(ctx, pollWait)
		return nil, nil
	}
	return records, nil
}

// open opens the file and skips to the stored offset.
func (t *SourceTask) open() error {
	f, err := os.Open(t.filename)
	if err != nil {
		return err
	}
	offset, err := t.ctx.OffsetStorageReader().Offset(map[string]any{FilenameField: t.filename})
	if err != nil {
		f.Close()
		return err
	}
	if offset != nil {
		if last, ok := offset[PositionField]; ok && last != nil {
			pos, ok := last.(int64)
			if !ok {
				f.Close()
				return errors.New("Offset position is the incorrect type")
			}
			if _, err := f.Seek(pos, io.SeekStart); err != nil {
				f.Close()
				return fmt.Errorf("seek %s to %d: %w", t.filename, pos, err)
			}
			t.logger.Debug("Skipped to offset", "position", pos)
			t.pos = pos
		}
	}
	t.in = f
	t.logger.Debug("Opened file for reading")
	return nil
}

// read reads what is available: a regular file returns io.EOF at its end;
// standard input is read with a short deadline when it supports one.
func (t *SourceTask) read() (int, error) {
	if t.stdin {
		_ = t.in.SetReadDeadline(time.Now().Add(pollWait))
	}
	return t.in.Read(t.chunk)
}

// extract appends the complete lines in buf to records, up to the batch
// size.
func (t *SourceTask) extract(records []*connect.SourceRecord) []*connect.SourceRecord {
	for len(records) < t.batchSize {
		i := bytes.IndexAny(t.buf, "\r\n")
		if i < 0 {
			return records
		}
		next := i + 1
		if t.buf[i] == '\r' {
			if i+1 >= len(t.buf) {
				return records // is it "\r\n"? wait for the next byte
			}
			if t.buf[i+1] == '\n' {
				next = i + 2
			}
		}
		line := string(t.buf[:i])
		t.buf = t.buf[next:]
		t.pos += int64(next)
		rec := &connect.SourceRecord{
			Record: connect.Record{
				Topic:       t.topic,
				ValueSchema: connect.StringSchema,
				Value:       line,
				Timestamp:   time.Now(),
			},
		}
		if !t.stdin {
			rec.SourcePartition = map[string]any{FilenameField: t.filename}
			rec.SourceOffset = map[string]any{PositionField: t.pos}
		}
		records = append(records, rec)
	}
	return records
}

// Stop closes the file.
func (t *SourceTask) Stop() error {
	if t.in != nil && !t.stdin {
		return t.in.Close()
	}
	return nil
}

// wait sleeps for d or until ctx is done.
func wait(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// ExactlyOnceSupport implements connect.ExactlyOnceSupporter as Kafka's
// FileStreamSourceConnector does: a file that is only appended to is
// re-read from the committed position after a restart, so exactly-once
// delivery holds; standard input keeps no offsets, so it cannot.
func (*SourceConnector) ExactlyOnceSupport(props map[string]string) connect.ExactlyOnceSupport {
	if props[FileConfig] != "" {
		return connect.ExactlyOnceSupported
	}
	return connect.ExactlyOnceUnsupported
}

var _ connect.ExactlyOnceSupporter = (*SourceConnector)(nil)
