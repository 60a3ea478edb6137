package file

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

type taskContext struct {
	offsets map[string]any // the stored offset of the file, or nil
}

func (c taskContext) Configs() map[string]string                       { return nil }
func (c taskContext) OffsetStorageReader() connect.OffsetStorageReader { return c }
func (c taskContext) Offset(p map[string]any) (map[string]any, error)  { return c.offsets, nil }
func (c taskContext) Offsets(ps []map[string]any) ([]map[string]any, error) {
	return []map[string]any{c.offsets}, nil
}

func init() { pollWait = time.Millisecond }

func startSource(t *testing.T, props map[string]string, stored map[string]any) *SourceTask {
	t.Helper()
	task := (&SourceConnector{}).NewTask().(*SourceTask)
	task.Initialize(taskContext{offsets: stored})
	if err := task.Start(props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task
}

type line struct {
	value string
	pos   int64
}

func poll(t *testing.T, task *SourceTask) []line {
	t.Helper()
	recs, err := task.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []line
	for _, r := range recs {
		if r.Topic != "t" || r.ValueSchema != connect.StringSchema || r.Key != nil || r.KeySchema != nil {
			t.Fatalf("record %+v", r)
		}
		if r.SourcePartition[FilenameField] != task.filename {
			t.Fatalf("partition %v", r.SourcePartition)
		}
		out = append(out, line{r.Value.(string), r.SourceOffset[PositionField].(int64)})
	}
	return out
}

func write(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

// Lines end at \n, \r\n or \r; offsets are byte positions after each
// line's end; a partial line waits for its end; appended lines follow.
func TestSourceTaskLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	task := startSource(t, map[string]string{FileConfig: path, TopicConfig: "t"}, nil)
	// The file does not exist yet: nothing, no error.
	if got := poll(t, task); got != nil {
		t.Fatalf("missing file gave %v", got)
	}
	write(t, path, "héllo\r\nb\rc\npartial")
	want := []line{{"héllo", 8}, {"b", 10}, {"c", 12}}
	if got := poll(t, task); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := poll(t, task); got != nil {
		t.Fatalf("partial line gave %v", got)
	}
	write(t, path, " line\r")
	if got := poll(t, task); got != nil {
		t.Fatalf("a trailing \\r must wait for the next byte, got %v", got)
	}
	write(t, path, "\n")
	if got := poll(t, task); !reflect.DeepEqual(got, []line{{"partial line", 26}}) {
		t.Fatalf("got %v", got)
	}
}

func TestSourceTaskBatchSizeAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	write(t, path, "one\ntwo\nthree\nfour\n")
	task := startSource(t, map[string]string{FileConfig: path, TopicConfig: "t", BatchSizeConfig: "3"}, nil)
	if got := poll(t, task); !reflect.DeepEqual(got, []line{{"one", 4}, {"two", 8}, {"three", 14}}) {
		t.Fatalf("first batch %v", got)
	}
	if got := poll(t, task); !reflect.DeepEqual(got, []line{{"four", 19}}) {
		t.Fatalf("second batch %v", got)
	}
	// A new task resumes at the stored position.
	resumed := startSource(t, map[string]string{FileConfig: path, TopicConfig: "t"}, map[string]any{PositionField: int64(8)})
	if got := poll(t, resumed); !reflect.DeepEqual(got, []line{{"three", 14}, {"four", 19}}) {
		t.Fatalf("resumed %v", got)
	}
	bad := startSource(t, map[string]string{FileConfig: path, TopicConfig: "t"}, map[string]any{PositionField: "8"})
	if _, err := bad.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "incorrect type") {
		t.Fatalf("string position: %v", err)
	}
}

func TestSourceConnector(t *testing.T) {
	c := &SourceConnector{}
	if err := c.Start(map[string]string{FileConfig: "f"}); err == nil || !strings.Contains(err.Error(), `Missing required configuration "topic"`) {
		t.Fatalf("missing topic: %v", err)
	}
	props := map[string]string{FileConfig: "f", TopicConfig: "t"}
	if err := c.Start(props); err != nil {
		t.Fatal(err)
	}
	if cfgs, _ := c.TaskConfigs(5); len(cfgs) != 1 {
		t.Fatalf("%d task configs, want 1", len(cfgs))
	}
	p := []map[string]any{{FilenameField: "f"}}
	if ok, err := c.AlterOffsets(props, p, []map[string]any{{PositionField: int64(3)}}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, off := range []map[string]any{{"pos": int64(1)}, {PositionField: "1"}, {PositionField: int64(-1)}} {
		if _, err := c.AlterOffsets(props, p, []map[string]any{off}); err == nil {
			t.Errorf("offset %v accepted", off)
		}
	}
	if _, err := c.AlterOffsets(props, []map[string]any{{"file": "f"}}, []map[string]any{{PositionField: int64(1)}}); err == nil {
		t.Error("partition without filename accepted")
	}
	if _, err := c.AlterOffsets(map[string]string{TopicConfig: "t"}, p, []map[string]any{nil}); err == nil {
		t.Error("stdin offsets accepted")
	}
}

func TestSinkTask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	write(t, path, "existing\n")
	c := &SinkConnector{}
	if err := c.Start(map[string]string{FileConfig: path}); err != nil {
		t.Fatal(err)
	}
	cfgs, _ := c.TaskConfigs(2)
	if len(cfgs) != 2 {
		t.Fatalf("%d task configs", len(cfgs))
	}
	task := c.NewTask()
	task.Initialize(nil)
	if err := task.Start(cfgs[0]); err != nil {
		t.Fatal(err)
	}
	s := connect.StructBuilder().Field("a", connect.Int32Schema).MustBuild()
	recs := []*connect.SinkRecord{
		{Record: connect.Record{Value: "plain"}},
		{Record: connect.Record{Value: nil}},
		{Record: connect.Record{ValueSchema: s, Value: connect.NewStruct(s).Put("a", int32(7))}},
		{Record: connect.Record{Value: map[string]any{"k": int64(1)}}},
	}
	if err := task.Put(recs); err != nil {
		t.Fatal(err)
	}
	// Put writes through: the lines are in the file before Flush.
	b, _ := os.ReadFile(path)
	if want := "existing\nplain\nnull\nStruct{a=7}\n{k=1}\n"; string(b) != want {
		t.Fatalf("file %q, want %q", b, want)
	}
	if err := task.Flush(nil); err != nil {
		t.Fatal(err)
	}
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}
}
