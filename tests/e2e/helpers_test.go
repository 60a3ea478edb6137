// Package e2e runs real Kafka clients (franz-go kgo, kadm and raw kmsg
// requests) against an in-process Gregor broker started by kafkatest.
//
// The tests are grouped by area: produce_test.go (codecs, sizes, acks),
// fetch_test.go (long poll, byte limits, sessions, out of range),
// offsets_test.go (ListOffsets, DeleteRecords, OffsetForLeaderEpoch),
// topics_test.go (CreateTopics, DeleteTopics, CreatePartitions,
// Metadata), configs_test.go (DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs), cluster_test.go (ApiVersions,
// DescribeCluster, DescribeLogDirs) and durability_test.go (restart,
// retention). The expected behaviour is Apache Kafka's; each test cites
// the Kafka source or KIP that defines it.
//
// Clients are made with kgo.DisableIdempotentWrite so that raw batch
// checks see plain batches; idempotence has its own tests
// (tests/idempotence, TestProduceIdempotentDefault).
package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// testTimeout bounds every test's context: the whole package must stay
// far below it, so it only stops a hung test.
const testTimeout = 45 * time.Second

// env is one broker and the clients of one test.
type env struct {
	t   *testing.T
	ctx context.Context
	c   *kafkatest.Cluster
	cl  *kgo.Client
	adm *kadm.Client
}

// start starts a broker with opts and an admin/producer client on it.
func start(t *testing.T, opts ...kafkatest.Opt) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, c: kafkatest.Start(t, opts...)}
	e.cl = e.client()
	e.adm = kadm.NewClient(e.cl)
	return e
}

// client returns a client on the broker, closed at cleanup. Idempotent
// writes are disabled and records go to the partition they name.
func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(e.c.Addr()),
		kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RetryTimeout(10 * time.Second),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.MetadataMinAge(50 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

// reconnect replaces the env's clients, e.g. after a restart.
func (e *env) reconnect() {
	e.cl.Close()
	e.cl = e.client()
	e.adm = kadm.NewClient(e.cl)
}

// restart restarts the broker on the same data and reconnects.
func (e *env) restart() {
	e.t.Helper()
	e.cl.Close()
	if err := e.c.Restart(); err != nil {
		e.t.Fatalf("restart: %v", err)
	}
	e.reconnect()
}

// createTopic creates a topic or fails the test, returning its id.
func (e *env) createTopic(name string, partitions int32, configs map[string]*string) kadm.TopicID {
	e.t.Helper()
	r, err := e.adm.CreateTopic(e.ctx, partitions, 1, configs, name)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		e.t.Fatalf("create topic %s: %v", name, err)
	}
	return r.ID
}

// produce produces recs synchronously with cl (e.cl when nil) and fails
// the test on any error. Records keep their Partition (manual
// partitioner).
func (e *env) produce(cl *kgo.Client, recs ...*kgo.Record) {
	e.t.Helper()
	if cl == nil {
		cl = e.cl
	}
	if err := cl.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

// produceValues produces n records "prefix-i" to topic/partition and
// returns them.
func (e *env) produceValues(topic string, partition int32, prefix string, n int) []*kgo.Record {
	e.t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	e.produce(nil, recs...)
	return recs
}

// consume reads exactly n records from topic/partitions starting at the
// given offsets with a new group-less client made with opts, failing on
// fetch errors or when the test context ends.
func (e *env) consume(parts map[string]map[int32]kgo.Offset, n int, opts ...kgo.Opt) []*kgo.Record {
	e.t.Helper()
	cl := e.client(append([]kgo.Opt{kgo.ConsumePartitions(parts)}, opts...)...)
	defer cl.Close()
	return pollN(e.t, e.ctx, cl, n)
}

// consumeAll consumes n records of every partition of topic from the start.
func (e *env) consumeAll(topic string, partitions int32, n int, opts ...kgo.Opt) []*kgo.Record {
	e.t.Helper()
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		parts[p] = kgo.NewOffset().AtStart()
	}
	return e.consume(map[string]map[int32]kgo.Offset{topic: parts}, n, opts...)
}

// pollN polls cl until it has n records; more than n fails.
func pollN(t *testing.T, ctx context.Context, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline: %v", len(got), n, ctx.Err())
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("fetch %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		got = append(got, fs.Records()...)
	}
	if len(got) > n {
		t.Fatalf("consumed %d records, want %d", len(got), n)
	}
	return got
}

// byPartition groups records by partition, keeping their order.
func byPartition(recs []*kgo.Record) map[int32][]*kgo.Record {
	m := map[int32][]*kgo.Record{}
	for _, r := range recs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	return m
}

// request issues a kmsg request through cl and fails the test on a
// transport error.
func request[R kmsg.Response](t *testing.T, ctx context.Context, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

// codeErr turns a response error code into a comparable error (nil for 0).
func codeErr(code int16) error { return kerr.ErrorForCode(code) }

// wantCode fails the test unless code is want.
func wantCode(t *testing.T, what string, code int16, want error) {
	t.Helper()
	got := codeErr(code)
	if !errors.Is(got, want) && !(got == nil && want == nil) {
		t.Errorf("%s: error %v, want %v", what, got, want)
	}
}

// waitingForFix skips a test that fails because of a reported broker
// bug, unless GREGOR_E2E_KNOWN_BUGS=1 is set to check a fix: remove the
// call once the fix lands.
func waitingForFix(t *testing.T, bug string) {
	t.Helper()
	if os.Getenv("GREGOR_E2E_KNOWN_BUGS") == "" {
		t.Skip("waiting for broker fix: " + bug)
	}
}

// str returns a pointer to s (config values).
func str(s string) *string { return &s }

// eventually retries check until it returns nil or the context ends.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: still failing at the deadline: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// rawConn is a plain TCP connection speaking the Kafka protocol, to send
// requests at exact versions and observe connection closes.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	r    *bufio.Reader
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

var errConnClosed = errors.New("connection closed by the broker")

// roundTrip sends req at its set version and decodes the response. It
// returns errConnClosed if the broker closed the connection instead.
func (rc *rawConn) roundTrip(req kmsg.Request) (kmsg.Response, error) {
	rc.corr++
	b := kmsg.NewRequestFormatter(kmsg.FormatterClientID("e2e-raw")).AppendRequest(nil, req, rc.corr)
	_ = rc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.nc.Write(b); err != nil {
		return nil, errConnClosed
	}
	var size [4]byte
	if _, err := io.ReadFull(rc.r, size[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
			return nil, errConnClosed
		}
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != rc.corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, rc.corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 {
		// Response header v1: tagged fields (we send none and expect
		// none).
		if len(body) == 0 || body[0] != 0 {
			return nil, fmt.Errorf("unexpected response header tags")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}

// isReset reports a connection reset or abort by the peer; a timeout is
// not a close (a broker that hangs must not pass as one that closed).
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// rawRecord is one record for buildBatch.
type rawRecord struct {
	key, value []byte
	tsDelta    int64
}

// buildBatch encodes an uncompressed RecordBatch v2 (magic 2) with a
// correct CRC-32C, producer id -1:
//
//	baseOffset int64 | length int32 | partitionLeaderEpoch int32 |
//	magic int8 | crc uint32 | attributes int16 | lastOffsetDelta int32 |
//	baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
//	producerEpoch int16 | baseSequence int32 | records [count int32 ...]
func buildBatch(baseTimestamp int64, recs ...rawRecord) []byte {
	var records []byte
	maxTS := baseTimestamp
	for i, r := range recs {
		rec := kmsg.Record{TimestampDelta64: r.tsDelta, OffsetDelta: int32(i), Key: r.key, Value: r.value}
		body := rec.AppendTo(nil) // Length 0 is one varint byte
		rec.Length = int32(len(body) - 1)
		records = rec.AppendTo(records)
		if baseTimestamp+r.tsDelta > maxTS {
			maxTS = baseTimestamp + r.tsDelta
		}
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       baseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              records,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	crc := crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(out[17:], crc)
	return out
}

// batchOfSize builds a one-record uncompressed batch whose encoded size
// is exactly size bytes (size must be above ~100).
func batchOfSize(size int) []byte {
	v := size - 70
	for i := 0; i < 10 && v >= 0; i++ {
		b := buildBatch(time.Now().UnixMilli(), rawRecord{value: make([]byte, v)})
		if len(b) == size {
			return b
		}
		v -= len(b) - size
	}
	panic(fmt.Sprintf("batchOfSize: cannot build a batch of %d bytes", size))
}

// produceVersion is the Produce version of raw requests: v12, the
// highest that names topics (v13 uses topic ids, KIP-516).
const produceVersion = 12

// produceRaw sends one batch to topic/partition in a Produce v12 request
// on its own connection (kgo rewrites the acks of raw produce requests)
// and returns the partition's response.
func (e *env) produceRaw(topic string, partition int32, acks int16, batch []byte) kmsg.ProduceResponseTopicPartition {
	e.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = produceVersion
	req.Acks = acks
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := dialRaw(e.t, e.c.Addr()).roundTrip(req)
	if err != nil {
		e.t.Fatalf("produce: %v", err)
	}
	resp := r.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		e.t.Fatalf("produce response has %d topics, want 1 with 1 partition", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0]
}

// fetchRaw sends a one-partition, session-less Fetch and returns the
// partition's response.
func fetchRaw(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, id [16]byte, partition int32, offset int64, maxBytes int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0
	req.MaxBytes = 50 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	if id == [16]byte{} {
		rt.TopicID = lookupID(t, ctx, cl, topic)
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.FetchResponse](t, ctx, cl, req)
	wantCode(t, "fetch top-level", resp.ErrorCode, nil)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response has %d topics, want 1 with 1 partition", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0]
}

// lookupID returns a topic's id from a Metadata request, or the zero id
// if the topic does not exist. Requests at versions with topic ids
// (Produce v13, Fetch v13+) need it.
func lookupID(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &topic
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.MetadataResponse](t, ctx, cl, req)
	for _, mt := range resp.Topics {
		if mt.Topic != nil && *mt.Topic == topic && mt.ErrorCode == 0 {
			return mt.TopicID
		}
	}
	return [16]byte{}
}

// batches decodes the record batches of a fetch response partition.
func batches(t *testing.T, data []byte) []kmsg.RecordBatch {
	t.Helper()
	var out []kmsg.RecordBatch
	for len(data) >= 12 {
		n := int(binary.BigEndian.Uint32(data[8:])) + 12
		if n > len(data) {
			break // partial trailing batch
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:n]); err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		out = append(out, b)
		data = data[n:]
	}
	return out
}

// topicID looks up a topic's id in Metadata.
func (e *env) topicID(topic string) [16]byte {
	e.t.Helper()
	md, err := e.adm.Metadata(e.ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		e.t.Fatalf("metadata for %s: %v", topic, td.Err)
	}
	return td.ID
}

// offsetsOf is a one-partition kadm.Offsets.
func offsetsOf(topic string, partition int32, offset int64) kadm.Offsets {
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset, LeaderEpoch: -1})
	return os
}

// errorsIs is errors.Is that also accepts want == nil for a nil err.
func errorsIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
