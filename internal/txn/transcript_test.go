package txn

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// rewrite regenerates the expected output of the transcripts:
//
//	go test ./internal/txn -run Transcripts -rewrite
var rewrite = flag.Bool("rewrite", false, "rewrite testdata transcripts with actual output")

// A transcript is a file of commands and their expected output, in the
// style of etcd-raft's and pebble's datadriven tests:
//
//	# comment
//	command key=value flag
//	----
//	expected output
//	(a blank line ends the output)
type cmd struct {
	pos  string
	name string
	args map[string]string
}

func (c cmd) has(key string) bool { _, ok := c.args[key]; return ok }

func runTranscript(t *testing.T, path string, run func(cmd) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var out strings.Builder
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			i++
			continue
		}
		pos := fmt.Sprintf("%s:%d", path, i+1)
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s: command %q not followed by ----", pos, line)
		}
		j := i + 2
		for j < len(lines) && strings.TrimSpace(lines[j]) != "" {
			j++
		}
		want := strings.Join(lines[i+2:j], "\n")
		fields := strings.Fields(line)
		c := cmd{pos: pos, name: fields[0], args: map[string]string{}}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			c.args[k] = v
		}
		got := strings.TrimRight(run(c), "\n")
		if got == "" {
			got = "ok"
		}
		if got != want && !*rewrite {
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", pos, line, got, want)
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n", line, got)
		if j < len(lines) {
			out.WriteString("\n")
		}
		i = j + 1
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// env drives a Shard as the coordinator runtime does, with made-up time,
// an in-memory log and a scripted producer id source, recording what
// each command writes, answers and asks for.
type env struct {
	t          *testing.T
	cfg        Config
	tv         int16
	now        time.Time
	start      time.Time
	timers     *coordinator.Timers[*Shard]
	s          *Shard
	coordEpoch int32
	log        []coordinator.LoggedRecord
	// failAppend fails the next append with its error.
	failAppend error
	// nextPID is the next producer id handed out; pidErr fails the next
	// allocation.
	nextPID int64
	pidErr  error
	// out collects what a command caused, in order.
	out *strings.Builder
	// lastMarkers is the last marker request of each id.
	lastMarkers map[string]MarkerRequest
	observe     func(from, to State)
}

func newEnv(t *testing.T, observe func(from, to State)) *env {
	e := &env{t: t, tv: TV2, nextPID: 1000, coordEpoch: 1, lastMarkers: map[string]MarkerRequest{}, observe: observe}
	e.start = time.UnixMilli(0)
	e.now = e.start
	e.cfg = Config{
		TransactionMaxTimeoutMs:                 900000,
		TransactionalIDExpirationMs:             7 * 24 * 3600 * 1000,
		AbortTimedOutTransactionsIntervalMs:     10000,
		RemoveExpiredTransactionalIDsIntervalMs: 3600000,
		TransactionVersion:                      func() int16 { return e.tv },
		GroupPartition:                          func(g string) int32 { return PartitionFor(g, 50) },
		ProducerIDs:                             e,
		WriteMarkers: func(r MarkerRequest) {
			e.lastMarkers[r.TransactionalID] = r
			fmt.Fprintf(e.out, ">> markers %s\n", formatMarkers(r))
		},
	}
	e.out = &strings.Builder{}
	e.load()
	return e
}

func (e *env) GenerateProducerID() (int64, error) {
	if err := e.pidErr; err != nil {
		e.pidErr = nil
		return -1, err
	}
	e.nextPID++
	return e.nextPID - 1, nil
}

// load builds a shard from the log and loads it, as a new leadership does.
func (e *env) load() {
	e.timers = coordinator.NewTimers[*Shard]()
	e.s = NewShard(&e.cfg, 0, e.coordEpoch, e.timers)
	e.s.observe = e.observe
	for _, r := range e.log {
		if err := e.s.Replay(r); err != nil {
			e.t.Fatalf("replay at %d: %v", r.Offset, err)
		}
	}
	e.apply(func(res *coordinator.Result) { e.s.Loaded(e.now, res) })
}

func (e *env) apply(op func(res *coordinator.Result)) {
	res := &coordinator.Result{}
	op(res)
	coordinator.Apply(e.s, e.now, res, func(b coordinator.Batch) (int64, error) {
		recs := b.Records
		if err := e.failAppend; err != nil {
			e.failAppend = nil
			fmt.Fprintf(e.out, "> append failed: %s (%d records)\n", codeName(apierror.Code(err)), len(recs))
			return -1, err
		}
		base := int64(len(e.log))
		for i, r := range recs {
			e.log = append(e.log, coordinator.LoggedRecord{Offset: base + int64(i), ProducerID: -1, Key: r.Key, Value: r.Value})
			fmt.Fprintf(e.out, "> %s\n", formatRecord(r.Key, r.Value))
		}
		return base, nil
	}, func(err error) { e.t.Errorf("replay: %v", err) })
}

// advance moves time forward by d, running each timer at its deadline.
func (e *env) advance(d time.Duration) {
	end := e.now.Add(d)
	for {
		next, ok := e.timers.Next()
		if !ok || next.After(end) {
			break
		}
		if next.After(e.now) {
			e.now = next
		}
		op, _ := e.timers.PopDue(e.now)
		e.apply(func(res *coordinator.Result) { op(e.s, e.now, res) })
	}
	e.now = end
}

func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).(*kerr.Error).Message
}

func codeOf(name string) (*kerr.Error, error) {
	for c := int16(-1); c < 200; c++ {
		if err, ok := kerr.ErrorForCode(c).(*kerr.Error); ok && err.Message == name {
			return err, nil
		}
	}
	return nil, fmt.Errorf("unknown error %q", name)
}

func formatMarkers(r MarkerRequest) string {
	result := "abort"
	if r.Commit {
		result = "commit"
	}
	return fmt.Sprintf("%s %s pid=%d epoch=%d cepoch=%d tv=%d txn-partition=%d %v",
		r.TransactionalID, result, r.ProducerID, r.ProducerEpoch, r.CoordinatorEpoch, r.TransactionVersion, r.TxnPartition, r.Partitions)
}

// formatRecord prints a record as it is in the log.
func formatRecord(key, value []byte) string {
	r, err := decodeRecord(key, value)
	if err != nil {
		return "undecodable: " + err.Error()
	}
	if r.meta == nil {
		return r.id + " tombstone"
	}
	m := r.meta
	return fmt.Sprintf("%s v%d %s pid=%d epoch=%d prev=%d next=%d timeout=%d start=%d update=%d tv=%d %v",
		r.id, int16(value[0])<<8|int16(value[1]), m.state, m.producerID, m.producerEpoch, m.prevProducerID, m.nextProducerID,
		m.timeoutMs, m.startMs, m.lastUpdateMs, m.clientVersion, sortedPartitions(m.partitions))
}

// parts parses "a-0,a-1,b-3".
func parseParts(t *testing.T, s string) []TopicPartition {
	var out []TopicPartition
	if s == "" {
		return out
	}
	for _, p := range strings.Split(s, ",") {
		i := strings.LastIndex(p, "-")
		n, err := strconv.Atoi(p[i+1:])
		if i < 0 || err != nil {
			t.Fatalf("bad partition %q", p)
		}
		out = append(out, TopicPartition{Topic: p[:i], Partition: int32(n)})
	}
	return out
}

func (e *env) int(c cmd, key string, def int64) int64 {
	v, ok := c.args[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.t.Fatalf("%s: %s=%q: %v", c.pos, key, v, err)
	}
	return n
}

func (e *env) run(c cmd) string {
	e.out.Reset()
	out := e.out
	id := c.args["id"]
	version := int16(e.int(c, "v", -1))
	switch c.name {
	case "init":
		if version < 0 {
			version = 5
		}
		req := InitProducerIDRequest{
			Version: version, TransactionTimeoutMs: int32(e.int(c, "timeout", 60000)),
			ProducerID: e.int(c, "pid", -1), ProducerEpoch: int16(e.int(c, "epoch", -1)),
		}
		if !c.has("null") {
			req.TransactionalID = &id
		}
		e.apply(func(res *coordinator.Result) {
			e.s.InitProducerID(e.now, req, func(r InitProducerIDResponse) {
				fmt.Fprintf(out, "InitProducerId: %s pid=%d epoch=%d\n", codeName(r.ErrorCode), r.ProducerID, r.ProducerEpoch)
			}, res)
		})
	case "add":
		if version < 0 {
			version = 3
		}
		req := AddPartitionsRequest{
			Version: version, TransactionalID: id, ProducerID: e.int(c, "pid", -1), ProducerEpoch: int16(e.int(c, "epoch", -1)),
			VerifyOnly: c.has("verify"), Partitions: parseParts(e.t, c.args["parts"]),
		}
		e.apply(func(res *coordinator.Result) {
			e.s.AddPartitionsToTxn(e.now, req, func(r AddPartitionsResponse) {
				fmt.Fprintf(out, "AddPartitionsToTxn:")
				for _, p := range r.Partitions {
					fmt.Fprintf(out, " %s=%s", p.TopicPartition, codeName(p.ErrorCode))
				}
				fmt.Fprintln(out)
			}, res)
		})
	case "offsets":
		if version < 0 {
			version = 3
		}
		req := AddOffsetsRequest{Version: version, TransactionalID: id, ProducerID: e.int(c, "pid", -1), ProducerEpoch: int16(e.int(c, "epoch", -1)), Group: c.args["group"]}
		e.apply(func(res *coordinator.Result) {
			e.s.AddOffsetsToTxn(e.now, req, func(code int16) { fmt.Fprintf(out, "AddOffsetsToTxn: %s\n", codeName(code)) }, res)
		})
	case "end":
		if version < 0 {
			version = 5
		}
		req := EndTxnRequest{Version: version, TransactionalID: id, ProducerID: e.int(c, "pid", -1), ProducerEpoch: int16(e.int(c, "epoch", -1)), Commit: c.has("commit")}
		if c.has("commit") == c.has("abort") {
			e.t.Fatalf("%s: end needs commit or abort", c.pos)
		}
		e.apply(func(res *coordinator.Result) {
			e.s.EndTxn(e.now, req, func(r EndTxnResponse) {
				fmt.Fprintf(out, "EndTxn: %s pid=%d epoch=%d\n", codeName(r.ErrorCode), r.ProducerID, r.ProducerEpoch)
			}, res)
		})
	case "markers":
		// Report the last markers of id written: all of them, or parts.
		last, ok := e.lastMarkers[id]
		if !ok {
			e.t.Fatalf("%s: no markers asked for %s", c.pos, id)
		}
		done := MarkersDone{
			TransactionalID: id, ProducerID: e.int(c, "pid", last.ProducerID), ProducerEpoch: int16(e.int(c, "epoch", int64(last.ProducerEpoch))),
			CoordinatorEpoch: int32(e.int(c, "cepoch", int64(last.CoordinatorEpoch))), Partitions: last.Partitions,
		}
		if c.has("parts") {
			done.Partitions = parseParts(e.t, c.args["parts"])
		}
		e.apply(func(res *coordinator.Result) { e.s.CompleteMarkers(e.now, done, res) })
	case "advance":
		d, err := time.ParseDuration(c.args["by"])
		if err != nil {
			e.t.Fatalf("%s: %v", c.pos, err)
		}
		e.advance(d)
		fmt.Fprintf(out, "t=%dms\n", e.now.Sub(e.start).Milliseconds())
	case "describe":
		d := e.s.DescribeTransaction(id)
		fmt.Fprintf(out, "%s: %s", d.TransactionalID, codeName(d.ErrorCode))
		if d.ErrorCode == 0 {
			fmt.Fprintf(out, " state=%s pid=%d epoch=%d timeout=%d start=%d topics=%v", d.State, d.ProducerID, d.ProducerEpoch, d.TimeoutMs, d.StartTimestamp, d.Topics)
		}
		fmt.Fprintln(out)
	case "list":
		req := ListRequest{DurationFilterMs: e.int(c, "duration", -1), TransactionalIDPattern: c.args["pattern"]}
		if c.has("states") {
			req.States = strings.Split(c.args["states"], ",")
		}
		if c.has("pids") {
			for _, p := range strings.Split(c.args["pids"], ",") {
				n, _ := strconv.ParseInt(p, 10, 64)
				req.ProducerIDs = append(req.ProducerIDs, n)
			}
		}
		f, code := CompileListFilter(req)
		if code != 0 {
			fmt.Fprintf(out, "ListTransactions: %s\n", codeName(code))
			break
		}
		fmt.Fprintf(out, "unknown=%v\n", f.Unknown)
		for _, l := range e.s.ListTransactions(e.now, f) {
			fmt.Fprintf(out, "%s pid=%d %s\n", l.TransactionalID, l.ProducerID, l.State)
		}
	case "restart":
		// The partition moves (or the broker restarts): a new shard
		// loads the log, at the next coordinator epoch by default.
		e.apply(func(res *coordinator.Result) { e.s.Unloaded(res); res.Records = nil })
		e.coordEpoch = int32(e.int(c, "cepoch", int64(e.coordEpoch)+1))
		e.load()
	case "fail-append":
		code, err := codeOf(c.args["code"])
		if err != nil {
			e.t.Fatalf("%s: %v", c.pos, err)
		}
		e.failAppend = apierror.New(code, "injected")
	case "fail-pid":
		code, err := codeOf(c.args["code"])
		if err != nil {
			e.t.Fatalf("%s: %v", c.pos, err)
		}
		e.pidErr = apierror.New(code, "injected")
	case "tv":
		e.tv = int16(e.int(c, "level", 2))
	case "seed":
		// Put a record in the log and replay it, as if written earlier
		// (to reach states such as an exhausted epoch quickly).
		m := &txnMetadata{id: id, lastProducerEpoch: NoProducerEpoch}
		st, ok := ParseState(c.args["state"])
		if !ok {
			e.t.Fatalf("%s: bad state %q", c.pos, c.args["state"])
		}
		parts := map[TopicPartition]struct{}{}
		for _, tp := range parseParts(e.t, c.args["parts"]) {
			parts[tp] = struct{}{}
		}
		t := &transit{
			producerID: e.int(c, "pid", 0), prevProducerID: e.int(c, "prev", -1), nextProducerID: e.int(c, "next", -1),
			producerEpoch: int16(e.int(c, "epoch", 0)), timeoutMs: int32(e.int(c, "timeout", 60000)), state: st,
			partitions: parts, startMs: e.int(c, "start", -1), lastUpdateMs: e.int(c, "update", ms(e.now)), clientVersion: int16(e.int(c, "ctv", 0)),
		}
		r := txnRecord(m.id, t, e.tv)
		e.log = append(e.log, coordinator.LoggedRecord{Offset: int64(len(e.log)), ProducerID: -1, Key: r.Key, Value: r.Value})
		if err := e.s.Replay(e.log[len(e.log)-1]); err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(out, "> %s\n", formatRecord(r.Key, r.Value))
	case "dump":
		for _, m := range e.s.sortedTxns() {
			fmt.Fprintf(out, "%s %s pid=%d epoch=%d last-epoch=%d prev=%d next=%d timeout=%d start=%d update=%d tv=%d failed-fence=%v pending-complete=%v %v\n",
				m.id, m.state, m.producerID, m.producerEpoch, m.lastProducerEpoch, m.prevProducerID, m.nextProducerID,
				m.timeoutMs, m.startMs, m.lastUpdateMs, m.clientVersion, m.hasFailedEpochFence, m.pendingComplete != nil, sortedPartitions(m.partitions))
		}
		if t, ok := e.timers.Next(); ok {
			fmt.Fprintf(out, "next timer at %dms\n", t.Sub(e.start).Milliseconds())
		}
	default:
		e.t.Fatalf("%s: unknown command %q", c.pos, c.name)
	}
	return out.String()
}

// TestTranscripts runs testdata/*.txt; when all of them run, every
// transition of Kafka's table must have been taken.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	seen := map[[2]State]bool{}
	ran := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ran++
			e := newEnv(t, func(from, to State) { seen[[2]State{from, to}] = true })
			runTranscript(t, f, e.run)
		})
	}
	if ran < len(files) || t.Failed() {
		return
	}
	for to, froms := range validPrevious {
		for _, from := range froms {
			if !seen[[2]State{from, to}] {
				t.Errorf("no transcript takes the transition %s -> %s", from, to)
			}
		}
	}
}
