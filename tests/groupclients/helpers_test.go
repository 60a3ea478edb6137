package groupclients

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// testTimeout bounds each test; the tests run in parallel, so the package
// stays well under a minute.
const testTimeout = 45 * time.Second

// start starts a broker configured as the group tests need: no initial
// rebalance delay, a single-replica __consumer_offsets.
func start(t *testing.T) *kafkatest.Cluster {
	t.Helper()
	return kafkatest.Start(t,
		kafkatest.Config("group.initial.rebalance.delay.ms", "0"),
		kafkatest.Config("offsets.topic.replication.factor", "1"))
}

// testContext is the context every test runs its clients under.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

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

// client returns a franz-go client for c, closed at cleanup.
func client(t *testing.T, c *kafkatest.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with partitions partitions.
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

// produce writes n records keyed "k<i>" with values "<prefix><i>" to
// topic through franz-go (default partitioner: by key hash) and returns
// the values.
func produce(ctx context.Context, t *testing.T, cl *kgo.Client, topic, prefix string, n int) []string {
	t.Helper()
	recs := make([]*kgo.Record, n)
	vals := make([]string, n)
	for i := range recs {
		vals[i] = fmt.Sprintf("%s%d", prefix, i)
		recs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte(vals[i])}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	return vals
}

// endOffsets returns topic's end offset per partition.
func endOffsets(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// committed returns group's committed offsets for topic.
func committed(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	resp, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets of group %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		out[p] = o.At
	}
	return out
}

// waitCommitted waits until group's committed offsets for topic equal
// want, and fails t with the last seen offsets if ctx ends first. Clients
// commit asynchronously, so the test polls rather than sleeps.
func waitCommitted(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, want map[int32]int64) {
	t.Helper()
	var got map[int32]int64
	for {
		got = committed(ctx, t, adm, group, topic)
		if sameOffsets(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s: committed offsets of %s are %v, want %v (the end offsets)", group, topic, got, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func sameOffsets(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, o := range a {
		if bo, ok := b[p]; !ok || bo != o {
			return false
		}
	}
	return true
}

// syncBuffer is a bytes.Buffer safe for a process to write while the test
// reads it.
type syncBuffer struct {
	mu struct {
		sync.Mutex
		buf bytes.Buffer
	}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.buf.String()
}

// proc is a client process running in the background. It is killed at
// cleanup if the test has not stopped it.
type proc struct {
	cmdline        string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	err            error // set before done is closed
}

// startProc starts name with args; ctx bounds its life.
func startProc(ctx context.Context, t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmdline: name + " " + strings.Join(args, " "), done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, name, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", p.cmdline, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop sends SIGTERM, the signal on which kcat closes its consumer
// (leaving the group and committing), and waits for the process to exit.
func (p *proc) stop(ctx context.Context, t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited early: %v", p, p.err)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: signal: %v", p.cmdline, err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		t.Fatalf("%s did not exit on SIGTERM: %v", p, ctx.Err())
	}
	if p.err != nil {
		t.Fatalf("%s", p)
	}
}

func (p *proc) String() string {
	return fmt.Sprintf("%s\nstdout:\n%s\nstderr:\n%s", p.cmdline, clip(p.stdout.String()), clip(p.stderr.String()))
}

func clip(s string) string {
	const max = 4000
	if len(s) > max {
		return s[:max] + fmt.Sprintf("... (%d more bytes)", len(s)-max)
	}
	return s
}

// kadmClient wraps cl (owned by the caller) as an admin client.
func kadmClient(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// checkGroupEmpty fails t unless group is described as Empty with no
// members: every member left.
func checkGroupEmpty(ctx context.Context, t *testing.T, adm *kadm.Client, group string) {
	t.Helper()
	ds, err := adm.DescribeGroups(ctx, group)
	if err == nil {
		err = ds.Error()
	}
	if err != nil {
		t.Fatalf("describe group %s: %v", group, err)
	}
	d := ds[group]
	if d.State != "Empty" || len(d.Members) != 0 {
		t.Errorf("group %s after all members left: state %q with %d members, want Empty with none", group, d.State, len(d.Members))
	}
}
