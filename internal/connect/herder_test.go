package connect

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// testSource is a source connector for worker tests: "tasks.returned"
// says how many task configurations it returns (default tasks.max) and
// "fail.task" which task fails to start.
type testSource struct{ props map[string]string }

var testSourceDef = sdk.NewConfigDef().
	Define(sdk.ConfigKey{Name: "tasks.returned", Type: sdk.ConfigInt, Importance: sdk.ImportanceLow}).
	Define(sdk.ConfigKey{Name: "fail.task", Type: sdk.ConfigInt, Default: "-1", Importance: sdk.ImportanceLow})

func (*testSource) Version() string                   { return "test" }
func (*testSource) Config() *sdk.ConfigDef            { return testSourceDef }
func (*testSource) Stop() error                       { return nil }
func (c *testSource) Start(p map[string]string) error { c.props = p; return nil }
func (*testSource) NewTask() sdk.SourceTask           { return &testSourceTask{} }
func (c *testSource) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	n := maxTasks
	if s := c.props["tasks.returned"]; s != "" {
		n, _ = strconv.Atoi(s)
	}
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"index": strconv.Itoa(i), "fail.task": c.props["fail.task"]}
	}
	return out, nil
}

type testSourceTask struct{}

func (*testSourceTask) Version() string                  { return "test" }
func (*testSourceTask) Initialize(sdk.SourceTaskContext) {}
func (*testSourceTask) Stop() error                      { return nil }
func (*testSourceTask) Start(p map[string]string) error {
	if p["fail.task"] == p["index"] {
		return errors.New("task refused to start")
	}
	return nil
}
func (*testSourceTask) Poll(ctx context.Context) ([]*sdk.SourceRecord, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func init() {
	sdk.RegisterPlugin(sdk.Plugin{Class: "com.example.test.TestSourceConnector", Type: sdk.PluginSource, Version: "test",
		New: func() any { return &testSource{} }})
}

func TestTasksMax(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	_, a := startREST(t, c, dir)

	cfg := map[string]string{"connector.class": "TestSource", "tasks.max": "2", "tasks.returned": "3"}
	a.expect("PUT", "/connectors/many/config", cfg, 201, nil)
	st := a.status("many")
	if st.Connector.State != "FAILED" || !strings.Contains(st.Connector.Trace, "has generated 3 tasks, which is greater than 2") || len(st.Tasks) != 0 {
		t.Fatalf("status %+v", st)
	}
	cfg["tasks.max.enforce"] = "false"
	a.expect("PUT", "/connectors/many/config", cfg, 200, nil)
	a.waitState("many", "RUNNING", 3)

	// A sink runs tasks.max tasks in one consumer group.
	sink := map[string]string{"connector.class": "FileStreamSink", "tasks.max": "2", "topics": "two", "file": filepath.Join(dir, "two.txt")}
	a.expect("PUT", "/connectors/two/config", sink, 201, nil)
	a.waitState("two", "RUNNING", 2)
}

// A task that fails to start is FAILED with its error as the trace, and
// a restart with onlyFailed restarts only it (KIP-745).
func TestFailedTaskRestart(t *testing.T) {
	c := startBroker(t)
	_, a := startREST(t, c, t.TempDir())
	a.expect("PUT", "/connectors/f/config", map[string]string{"connector.class": "TestSource", "tasks.max": "2", "fail.task": "1"}, 201, nil)
	var st ConnectorStateInfo
	eventually(t, "task 1 FAILED", func() bool {
		st = a.status("f")
		return len(st.Tasks) == 2 && st.Tasks[0].State == "RUNNING" && st.Tasks[1].State == "FAILED"
	})
	if !strings.Contains(st.Tasks[1].Trace, "task refused to start") || st.Connector.State != "RUNNING" {
		t.Fatalf("status %+v", st)
	}
	var ts TaskState
	a.expect("GET", "/connectors/f/tasks/1/status", nil, 200, &ts)
	if ts.State != "FAILED" || ts.Trace == "" {
		t.Fatalf("task status %+v", ts)
	}
	var plan ConnectorStateInfo
	a.expect("POST", "/connectors/f/restart?includeTasks=true&onlyFailed=true", nil, 202, &plan)
	if plan.Connector.State != "RUNNING" || plan.Tasks[0].State != "RUNNING" || plan.Tasks[1].State != "RESTARTING" {
		t.Fatalf("plan %+v", plan)
	}
	eventually(t, "task 1 FAILED again", func() bool {
		st = a.status("f")
		return len(st.Tasks) == 2 && st.Tasks[1].State == "FAILED"
	})
}
