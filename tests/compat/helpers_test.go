package compat

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// Known broker bugs that block part of a test. A test skips with one of
// these messages only after seeing that bug's own symptom, and only after
// checking everything the bug does not block; the bug itself is pinned by
// a test that fails until it is fixed (named in the message).
const (
	// nullRecordsBug: a Fetch response for a partition with nothing to
	// return carries records = null (length -1); Kafka always sends an
	// empty record set (length 0). librdkafka rejects the whole response
	// ("invalid MessageSetSize -1"), so it never sees the end of a
	// partition; kafka-python raises TypeError from poll.
	nullRecordsBug = "waiting for broker fix: Fetch returns a null record set (length -1) for a partition with no records to return, where Kafka returns an empty one (length 0); pinned by TestKcatConsumeToEnd"

	// librdkafkaNullRecords is what librdkafka logs when it meets one.
	librdkafkaNullRecords = "invalid MessageSetSize -1"
	// kafkaPythonNullRecords is the exception kafka-python's poll raises.
	kafkaPythonNullRecords = "object of type 'NoneType' has no len()"
)

// testTimeout bounds each test; the package as a whole stays well under
// two minutes because the tests run in parallel.
const testTimeout = 60 * time.Second

// python is the interpreter the Debian packages install into.
const python = "/usr/bin/python3"

// missing fails t because a client is not installed, or skips it when
// GREGOR_COMPAT_OPTIONAL=1.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + "; run scripts/install-test-deps.sh (as root) to install the clients these tests drive"
	if os.Getenv("GREGOR_COMPAT_OPTIONAL") == "1" {
		t.Skip(msg)
	}
	t.Fatal(msg)
}

// requireKcat returns kcat's path or fails (skips) t.
func requireKcat(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		missing(t, "kcat is not installed (%v)", err)
	}
	return p
}

// requirePython fails (skips) t unless python can import module.
func requirePython(t testing.TB, module string) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		missing(t, "%s is not installed (%v)", python, err)
	}
	out, err := exec.Command(python, "-c", "import "+module).CombinedOutput()
	if err != nil {
		missing(t, "python module %s is not installed (%v: %s)", module, err, bytes.TrimSpace(out))
	}
}

var npmOnce struct {
	sync.Once
	err error
}

// requireKafkajs returns node's path and the kafkajs directory, running
// `npm ci` there first if node_modules is missing.
func requireKafkajs(t testing.TB) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed (%v)", err)
	}
	dir, err = filepath.Abs("kafkajs")
	if err != nil {
		t.Fatal(err)
	}
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs", "package.json")); err == nil {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmOnce.err = fmt.Errorf("npm is not installed: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmOnce.err = fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
		}
	})
	if npmOnce.err != nil {
		missing(t, "kafkajs is not installed (%v)", npmOnce.err)
	}
	return node, dir
}

// proc is a finished client process.
type proc struct {
	cmdline        string
	stdout, stderr string
	err            error
	// tripped is set when the process was killed because its stderr
	// showed the trip string.
	tripped bool
}

func (p proc) String() string {
	return fmt.Sprintf("%s: %v\nstdout:\n%s\nstderr:\n%s", p.cmdline, p.err, clip(p.stdout), clip(p.stderr))
}

func clip(s string) string {
	const max = 4000
	if len(s) > max {
		return s[:max] + fmt.Sprintf("... (%d more bytes)", len(s)-max)
	}
	return s
}

// tripWriter collects a process's stderr and cancels it as soon as trip
// appears.
type tripWriter struct {
	trip   []byte
	cancel context.CancelFunc
	mu     struct {
		sync.Mutex
		buf   bytes.Buffer
		fired bool
	}
}

func (w *tripWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.buf.Write(p)
	if len(w.trip) > 0 && !w.mu.fired && bytes.Contains(w.mu.buf.Bytes(), w.trip) {
		w.mu.fired = true
		w.cancel()
	}
	return len(p), nil
}

// cmd describes one client run.
type cmd struct {
	dir   string   // working directory; "" for the test's
	env   []string // added to the environment
	stdin string
	// trip, if set, kills the process as soon as its stderr contains it.
	trip string
}

// run runs name with args until it exits or ctx is done.
func (c cmd) run(ctx context.Context, name string, args ...string) proc {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	x := exec.CommandContext(ctx, name, args...)
	x.Dir = c.dir
	x.Env = append(os.Environ(), c.env...)
	x.Stdin = strings.NewReader(c.stdin)
	x.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	stderr := &tripWriter{trip: []byte(c.trip), cancel: cancel}
	x.Stdout, x.Stderr = &stdout, stderr
	err := x.Run()
	stderr.mu.Lock()
	defer stderr.mu.Unlock()
	p := proc{
		cmdline: name + " " + strings.Join(args, " "),
		stdout:  stdout.String(),
		stderr:  stderr.mu.buf.String(),
		err:     err,
		tripped: stderr.mu.fired,
	}
	if err != nil && !p.tripped && ctx.Err() != nil {
		p.err = fmt.Errorf("%w (killed: %v)", err, ctx.Err())
	}
	return p
}

// testContext is the context every test runs its clients under.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// admin returns a franz-go admin client for c, closed at cleanup.
func admin(t *testing.T, c *kafkatest.Cluster) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates topic with partitions partitions through franz-go.
func createTopic(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// readTopic reads every record of topic, up to the end offsets it has when
// called, with franz-go: the reference for what the broker stored.
func readTopic(ctx context.Context, t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	adm := admin(t, c)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	want := 0
	ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("franz-go read %d of %d records of %s: %v", len(recs), want, topic, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("franz-go read %s: %v", topic, errs[0].Err)
		}
		recs = append(recs, fs.Records()...)
	}
	sortKgo(recs)
	return recs
}

func sortKgo(recs []*kgo.Record) {
	slices.SortFunc(recs, func(a, b *kgo.Record) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
}

// compressionCodecs names the codecs by their attribute bits (KIP-110,
// RecordBatch attributes bits 0-2).
var compressionCodecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// checkStored checks that recs, read by franz-go, sit at offsets 0, 1, ...
// of each partition, in batches compressed with one of codecs; hint, if
// set, explains a mismatch.
func checkStored(t *testing.T, recs []*kgo.Record, hint string, codecs ...string) {
	t.Helper()
	next := map[string]int64{}
	wrong := map[string]map[string]int{} // partition -> stored codec -> records
	for _, r := range recs {
		tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
		if got := compressionName(r.Attrs.CompressionType()); !slices.Contains(codecs, got) {
			if wrong[tp] == nil {
				wrong[tp] = map[string]int{}
			}
			wrong[tp][got]++
		}
		if r.Offset != next[tp] {
			t.Errorf("%s: offset %d, want %d", tp, r.Offset, next[tp])
		}
		next[tp] = r.Offset + 1
	}
	for _, tp := range slices.Sorted(maps.Keys(wrong)) {
		t.Errorf("%s: stored with compression %v, want %s%s", tp, wrong[tp], strings.Join(codecs, " or "), hint)
	}
}

func compressionName(c uint8) string {
	if int(c) < len(compressionCodecs) {
		return compressionCodecs[c]
	}
	return fmt.Sprintf("codec(%d)", c)
}

// record is a record as the scripts print it (keys, values and header
// values base64, null for null) and as franz-go reads it.
type record struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       []byte   `json:"key"`
	Value     []byte   `json:"value"`
	Headers   []header `json:"headers"`
}

type header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

func (r record) String() string {
	return fmt.Sprintf("%s/%d@%d key=%s value=%s headers=%s", r.Topic, r.Partition, r.Offset, show(r.Key), show(r.Value), showHeaders(r.Headers))
}

func show(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) > 40 {
		return fmt.Sprintf("%q...(%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func showHeaders(hs []header) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.Key + "=" + show(h.Value)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// sameBytes is bytes.Equal that also tells null from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func (r record) equal(o record) bool {
	if r.Topic != o.Topic || r.Partition != o.Partition || r.Offset != o.Offset ||
		!sameBytes(r.Key, o.Key) || !sameBytes(r.Value, o.Value) || len(r.Headers) != len(o.Headers) {
		return false
	}
	for i := range r.Headers {
		if r.Headers[i].Key != o.Headers[i].Key || !sameBytes(r.Headers[i].Value, o.Headers[i].Value) {
			return false
		}
	}
	return true
}

func fromKgo(recs []*kgo.Record) []record {
	out := make([]record, len(recs))
	for i, r := range recs {
		out[i] = record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			out[i].Headers = append(out[i].Headers, header{Key: h.Key, Value: h.Value})
		}
	}
	return out
}

func sortRecords(rs []record) {
	slices.SortFunc(rs, func(a, b record) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
}

// compareRecords fails t unless got and want hold the same records
// (compared in topic, partition, offset order).
func compareRecords(t *testing.T, what string, want, got []record) {
	t.Helper()
	want, got = slices.Clone(want), slices.Clone(got)
	sortRecords(want)
	sortRecords(got)
	bad := 0
	for i := 0; i < max(len(want), len(got)) && bad < 5; i++ {
		switch {
		case i >= len(want):
			t.Errorf("%s: unexpected record %v", what, got[i])
		case i >= len(got):
			t.Errorf("%s: missing record %v", what, want[i])
		case !want[i].equal(got[i]):
			t.Errorf("%s: record %d:\n got  %v\n want %v", what, i, got[i], want[i])
		default:
			continue
		}
		bad++
	}
	if len(want) != len(got) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
	}
}

// librdkafkaCodecs returns the codecs a batch that librdkafka produced with
// codec may be stored with, and the hint checkStored gives on a mismatch.
//
// librdkafka compresses only with a codec it thinks the broker supports,
// which it judges from ApiVersions: gzip and snappy need Produce v0 in the
// advertised range, lz4 needs it and FindCoordinator v0, zstd needs Produce
// v7 and Fetch v10. Otherwise it sends the batch uncompressed and says so
// only in a debug log (librdkafka issue 4956). Kafka 4 rejects Produce
// v0-v2 but still advertises Produce from v0 for exactly this reason
// (KAFKA-18659, ApiKeys.PRODUCE_API_VERSIONS_RESPONSE_MIN_VERSION = 0). lz4
// is also accepted uncompressed: it depends on FindCoordinator v0, which
// Gregor does not serve yet (no consumer groups).
func librdkafkaCodecs(codec string) (hint string, codecs []string) {
	switch codec {
	case "gzip", "snappy":
		return " (broker bug: ApiVersions must advertise Produce from v0, as Kafka 4 does per KAFKA-18659; " +
			"from v3, librdkafka decides the broker cannot take " + codec + " and sends the batch uncompressed)", []string{codec}
	case "lz4":
		return "", []string{"lz4", "none"}
	}
	return "", []string{codec}
}
