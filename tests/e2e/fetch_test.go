package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchPart names one partition of a raw fetch.
type fetchPart struct {
	topic     string
	id        [16]byte
	partition int32
	offset    int64
	maxBytes  int32
}

// fetchReq builds a Fetch request at version v.
func fetchReq(v int16, sessionID, epoch int32, maxWait, minBytes, maxBytes int32, parts ...fetchPart) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.SessionID, req.SessionEpoch = sessionID, epoch
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWait, minBytes, maxBytes
	for _, p := range parts {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != p.topic || req.Topics[n-1].TopicID != p.id {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = p.topic, p.id
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p.partition, p.offset, p.maxBytes
		req.Topics[len(req.Topics)-1].Partitions = append(req.Topics[len(req.Topics)-1].Partitions, rp)
	}
	return req
}

// fetchVia sends req on rc and fails the test on transport errors.
func fetchVia(t *testing.T, rc *rawConn, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	t.Helper()
	r, err := rc.roundTrip(req)
	if err != nil {
		t.Fatalf("fetch v%d: %v", req.Version, err)
	}
	return r.(*kmsg.FetchResponse)
}

// partitionsOf lists "topic/partition" of a fetch response (by name, or
// by the given id→name map for v13+).
func partitionsOf(resp *kmsg.FetchResponse, names map[[16]byte]string) map[string]kmsg.FetchResponseTopicPartition {
	out := map[string]kmsg.FetchResponseTopicPartition{}
	for _, rt := range resp.Topics {
		name := rt.Topic
		if n, ok := names[rt.TopicID]; ok {
			name = n
		}
		for _, p := range rt.Partitions {
			out[fmt.Sprintf("%s/%d", name, p.Partition)] = p
		}
	}
	return out
}

// TestFetchLongPoll sends a fetch that must wait (min_bytes not yet
// available, long max_wait), then produces. The fetch must answer with
// the records produced after it was sent: Kafka parks the fetch in the
// purgatory until min_bytes accumulate or max_wait passes
// (ReplicaManager.fetchMessages, DelayedFetch). A second fetch needing
// two records' bytes must not return with only the first.
func TestFetchLongPoll(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("poll", 1, nil)

	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	longFetch := func(offset int64, minBytes int32) <-chan result {
		rc := dialRaw(t, e.c.Addr())
		ch := make(chan result, 1)
		go func() {
			r, err := rc.roundTrip(fetchReq(12, 0, -1, 20000, minBytes, 1<<20, fetchPart{topic: "poll", offset: offset, maxBytes: 1 << 20}))
			if err != nil {
				ch <- result{err: err}
				return
			}
			ch <- result{resp: r.(*kmsg.FetchResponse)}
		}()
		return ch
	}
	wait := func(ch <-chan result) *kmsg.FetchResponse {
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return r.resp
		case <-time.After(15 * time.Second):
			t.Fatal("long-poll fetch did not return after data arrived")
			return nil
		}
	}

	ch := longFetch(0, 1)
	// Give the fetch time to park; if it answered empty instead of
	// waiting, the check below fails.
	time.Sleep(200 * time.Millisecond)
	e.produce(nil, &kgo.Record{Topic: "poll", Value: []byte("first")})
	resp := wait(ch)
	p := resp.Topics[0].Partitions[0]
	wantCode(t, "long poll", p.ErrorCode, nil)
	bs := batches(t, p.RecordBatches)
	if len(bs) != 1 || bs[0].FirstOffset != 0 {
		t.Fatalf("long poll returned %d batches (%d bytes), want the record produced while it waited", len(bs), len(p.RecordBatches))
	}

	// min_bytes of two records: the first alone must not complete it.
	first := len(p.RecordBatches)
	ch = longFetch(1, int32(first+first/2))
	time.Sleep(200 * time.Millisecond)
	e.produce(nil, &kgo.Record{Topic: "poll", Value: []byte("secnd")})
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-ch:
		if r.err == nil {
			t.Fatalf("fetch with min_bytes %d returned after one %d-byte batch: %d bytes", first+first/2, first, len(r.resp.Topics[0].Partitions[0].RecordBatches))
		}
		t.Fatal(r.err)
	default:
	}
	e.produce(nil, &kgo.Record{Topic: "poll", Value: []byte("third")})
	resp = wait(ch)
	bs = batches(t, resp.Topics[0].Partitions[0].RecordBatches)
	if len(bs) != 2 || bs[0].FirstOffset != 1 || bs[1].FirstOffset != 2 {
		t.Fatalf("min_bytes fetch returned %d batches, want offsets 1 and 2", len(bs))
	}

	// With nothing to read, max_wait expires and the fetch answers empty.
	rc := dialRaw(t, e.c.Addr())
	empty := fetchVia(t, rc, fetchReq(12, 0, -1, 50, 1, 1<<20, fetchPart{topic: "poll", offset: 3, maxBytes: 1 << 20}))
	ep := empty.Topics[0].Partitions[0]
	wantCode(t, "expired long poll", ep.ErrorCode, nil)
	if len(ep.RecordBatches) != 0 || ep.HighWatermark != 3 {
		t.Errorf("expired long poll: %d bytes, high watermark %d; want 0 bytes, 3", len(ep.RecordBatches), ep.HighWatermark)
	}

	// A kgo consumer polling before anything is produced gets the
	// record once it is.
	e.createTopic("poll2", 1, nil)
	cl := e.client(kgo.ConsumeTopics("poll2"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Second))
	got := make(chan []*kgo.Record, 1)
	go func() {
		fs := cl.PollFetches(e.ctx)
		got <- fs.Records()
	}()
	time.Sleep(200 * time.Millisecond)
	e.produce(nil, &kgo.Record{Topic: "poll2", Value: []byte("late")})
	select {
	case recs := <-got:
		if len(recs) != 1 || string(recs[0].Value) != "late" {
			t.Errorf("poll returned %d records", len(recs))
		}
	case <-e.ctx.Done():
		t.Fatal("consumer never saw the record")
	}
}

// produceEach produces each value as its own batch.
func (e *env) produceEach(topic string, partition int32, values ...[]byte) {
	e.t.Helper()
	for _, v := range values {
		e.produce(nil, &kgo.Record{Topic: topic, Partition: partition, Value: v})
	}
}

// TestFetchMaxBytes checks the byte limits: a fetch returns at most
// max_bytes overall and partition_max_bytes per partition, except that
// the first batch of the first non-empty partition is returned whole
// even if larger (KIP-74); kgo consumers with small FetchMaxBytes and
// FetchMaxPartitionBytes still read everything in order.
func TestFetchMaxBytes(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("bytes", 3, nil)
	const n = 12
	val := func(p int32, i int) []byte {
		return append([]byte(fmt.Sprintf("%d-%02d-", p, i)), bytes.Repeat([]byte{'x'}, 10_000)...)
	}
	pcl := e.client(kgo.ProducerBatchCompression(kgo.NoCompression()))
	for p := int32(0); p < 3; p++ {
		for i := 0; i < n; i++ {
			e.produce(pcl, &kgo.Record{Topic: "bytes", Partition: p, Value: val(p, i)})
		}
	}
	id := e.topicID("bytes")
	names := map[[16]byte]string{id: "bytes"}

	rc := dialRaw(t, e.c.Addr())
	all := func(maxBytes int32) []fetchPart {
		var ps []fetchPart
		for p := int32(0); p < 3; p++ {
			ps = append(ps, fetchPart{id: id, partition: p, maxBytes: maxBytes})
		}
		return ps
	}
	batchSize := 0
	{
		one := fetchVia(t, rc, fetchReq(18, 0, -1, 0, 1, 1<<20, fetchPart{id: id, maxBytes: 1}))
		p := one.Topics[0].Partitions[0]
		bs := batches(t, p.RecordBatches)
		if len(bs) != 1 {
			t.Fatalf("partition_max_bytes=1 returned %d whole batches, want exactly the first (KIP-74)", len(bs))
		}
		batchSize = int(bs[0].Length) + 12
	}

	// max_bytes of 2.5 batches: at most that many bytes in total.
	limit := int32(batchSize*5/2) + 1
	resp := fetchVia(t, rc, fetchReq(18, 0, -1, 0, 1, limit, all(1<<20)...))
	total := 0
	for _, p := range partitionsOf(resp, names) {
		total += len(p.RecordBatches)
	}
	if total > int(limit) || total < batchSize {
		t.Errorf("max_bytes %d: response carries %d bytes", limit, total)
	}

	// partition_max_bytes of 1.5 batches: each partition at most that,
	// and with max_bytes large every partition gets data.
	plimit := int32(batchSize*3/2) + 1
	resp = fetchVia(t, rc, fetchReq(18, 0, -1, 0, 1, 1<<20, all(plimit)...))
	got := partitionsOf(resp, names)
	for p := int32(0); p < 3; p++ {
		rp := got[fmt.Sprintf("bytes/%d", p)]
		if len(rp.RecordBatches) > int(plimit) {
			t.Errorf("partition %d: %d bytes over partition_max_bytes %d", p, len(rp.RecordBatches), plimit)
		}
		if bs := batches(t, rp.RecordBatches); len(bs) != 1 {
			t.Errorf("partition %d: %d whole batches with partition_max_bytes of 1.5 batches, want 1", p, len(bs))
		}
	}

	// A kgo consumer with limits smaller than two records reads all.
	for _, opts := range [][]kgo.Opt{
		{kgo.FetchMaxBytes(int32(batchSize + 100))},
		{kgo.FetchMaxPartitionBytes(int32(batchSize + 100))},
		{kgo.FetchMaxBytes(100), kgo.FetchMaxPartitionBytes(100)},
	} {
		recs := byPartition(e.consumeAll("bytes", 3, 3*n, opts...))
		for p := int32(0); p < 3; p++ {
			for i, r := range recs[p] {
				if r.Offset != int64(i) || !bytes.Equal(r.Value, val(p, i)) {
					t.Fatalf("partition %d record %d: offset %d, value %.10q", p, i, r.Offset, r.Value)
				}
			}
		}
	}
}

// TestFetchSessions drives an incremental fetch session (KIP-227) by
// hand: a full fetch opens it, incremental fetches list only partitions
// with news, forgotten partitions leave it, wrong epochs and unknown ids
// are refused, and epoch -1 closes it.
func TestFetchSessions(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("sess", 2, nil)
	e.produceValues("sess", 0, "a", 5)
	rc := dialRaw(t, e.c.Addr())
	p0 := fetchPart{topic: "sess", partition: 0, maxBytes: 1 << 20}
	p1 := fetchPart{topic: "sess", partition: 1, maxBytes: 1 << 20}

	full := fetchVia(t, rc, fetchReq(12, 0, 0, 0, 0, 1<<20, p0, p1))
	wantCode(t, "open session", full.ErrorCode, nil)
	id := full.SessionID
	if id == 0 {
		t.Fatal("full fetch with epoch 0 opened no session")
	}
	got := partitionsOf(full, nil)
	if len(got) != 2 || len(batches(t, got["sess/0"].RecordBatches)) == 0 || got["sess/1"].HighWatermark != 0 {
		t.Fatalf("full fetch returned %d partitions", len(got))
	}

	// Epoch 1: p0 moves to its end; nothing is new anywhere.
	p0.offset = 5
	inc := fetchVia(t, rc, fetchReq(12, id, 1, 0, 0, 1<<20, p0))
	wantCode(t, "incremental 1", inc.ErrorCode, nil)
	if inc.SessionID != id {
		t.Errorf("incremental fetch answered session %d, want %d", inc.SessionID, id)
	}
	if got := partitionsOf(inc, nil); len(got) != 0 {
		t.Errorf("incremental fetch without news returned %v", keys(got))
	}

	// Epoch 2: p1 gets data; only p1 is returned, though the request
	// names no partition.
	e.produceValues("sess", 1, "b", 2)
	inc = fetchVia(t, rc, fetchReq(12, id, 2, 0, 0, 1<<20))
	got = partitionsOf(inc, nil)
	if len(got) != 1 || len(batches(t, got["sess/1"].RecordBatches)) == 0 || got["sess/1"].HighWatermark != 2 {
		t.Errorf("incremental fetch after producing to p1 returned %v", keys(got))
	}

	// Epoch 3: p1 is forgotten; new data on p1 is not returned at 4.
	req := fetchReq(12, id, 3, 0, 0, 1<<20)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.Partitions = "sess", []int32{1}
	req.ForgottenTopics = append(req.ForgottenTopics, ft)
	fetchVia(t, rc, req)
	e.produceValues("sess", 1, "c", 1)
	e.produceValues("sess", 0, "d", 1)
	inc = fetchVia(t, rc, fetchReq(12, id, 4, 0, 0, 1<<20))
	got = partitionsOf(inc, nil)
	if _, ok := got["sess/1"]; ok || len(got) != 1 {
		t.Errorf("after forgetting p1 the session returned %v, want only sess/0", keys(got))
	}

	// Wrong epoch and unknown session.
	bad := fetchVia(t, rc, fetchReq(12, id, 9, 0, 0, 1<<20))
	wantCode(t, "wrong epoch", bad.ErrorCode, kerr.InvalidFetchSessionEpoch)
	unknown := fetchVia(t, rc, fetchReq(12, id+1, 1, 0, 0, 1<<20))
	wantCode(t, "unknown session", unknown.ErrorCode, kerr.FetchSessionIDNotFound)

	// Epoch -1 closes the session (a full, sessionless fetch); the id is
	// then unknown.
	closing := fetchVia(t, rc, fetchReq(12, id, -1, 0, 0, 1<<20, p0))
	wantCode(t, "close session", closing.ErrorCode, nil)
	if closing.SessionID != 0 {
		t.Errorf("closing fetch answered session %d, want 0", closing.SessionID)
	}
	after := fetchVia(t, rc, fetchReq(12, id, 5, 0, 0, 1<<20))
	wantCode(t, "closed session", after.ErrorCode, kerr.FetchSessionIDNotFound)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestFetchSessionsKgo consumes in several rounds with kgo's fetch
// sessions on (the default) and off (kgo.DisableFetchSessions): each round
// sees exactly the new records.
func TestFetchSessionsKgo(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{{"sessions", nil}, {"no-sessions", []kgo.Opt{kgo.DisableFetchSessions()}}} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "rounds-" + tc.name
			e.createTopic(topic, 4, nil)
			cl := e.client(append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, tc.opts...)...)
			for round := 0; round < 4; round++ {
				var recs []*kgo.Record
				for p := int32(0); p < 4; p++ {
					if (int(p)+round)%2 == 0 { // half the partitions each round
						recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "r%d", round)})
					}
				}
				e.produce(nil, recs...)
				got := pollN(t, e.ctx, cl, len(recs))
				for _, r := range got {
					if string(r.Value) != fmt.Sprintf("r%d", round) {
						t.Fatalf("round %d: got %q from partition %d offset %d", round, r.Value, r.Partition, r.Offset)
					}
				}
			}
		})
	}
}

// TestFetchOffsetOutOfRange fetches below the log start offset and above
// the high watermark: OFFSET_OUT_OF_RANGE with the partition's high
// watermark and log start offset (Kafka: Partition.readRecords /
// LocalLog.read throw OffsetOutOfRangeException). Fetching exactly at the
// high watermark is not an error.
func TestFetchOffsetOutOfRange(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("oor", 1, nil)
	e.produceValues("oor", 0, "v", 5)
	rc := dialRaw(t, e.c.Addr())
	at := func(off int64) kmsg.FetchResponseTopicPartition {
		return fetchVia(t, rc, fetchReq(12, 0, -1, 0, 1, 1<<20, fetchPart{topic: "oor", offset: off, maxBytes: 1 << 20})).Topics[0].Partitions[0]
	}
	for _, off := range []int64{6, 100, -1} {
		p := at(off)
		wantCode(t, fmt.Sprintf("fetch at %d", off), p.ErrorCode, kerr.OffsetOutOfRange)
		if p.HighWatermark != 5 || p.LogStartOffset != 0 {
			t.Errorf("fetch at %d: high watermark %d, log start %d; want 5, 0", off, p.HighWatermark, p.LogStartOffset)
		}
	}
	p := at(5)
	wantCode(t, "fetch at the high watermark", p.ErrorCode, nil)
	if len(p.RecordBatches) != 0 {
		t.Errorf("fetch at the high watermark returned %d bytes", len(p.RecordBatches))
	}

	if _, err := e.adm.DeleteRecords(e.ctx, offsetsOf("oor", 0, 3)); err != nil {
		t.Fatal(err)
	}
	p = at(1)
	wantCode(t, "fetch below the log start offset", p.ErrorCode, kerr.OffsetOutOfRange)
	if p.LogStartOffset != 3 {
		t.Errorf("log start offset %d after DeleteRecords(3), want 3", p.LogStartOffset)
	}
	p = at(3)
	wantCode(t, "fetch at the new log start offset", p.ErrorCode, nil)

	// kgo resets an out-of-range position per ConsumeResetOffset.
	recs := e.consume(map[string]map[int32]kgo.Offset{"oor": {0: kgo.NewOffset().At(1)}}, 2, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if recs[0].Offset != 3 || recs[1].Offset != 4 {
		t.Errorf("after reset consumed offsets %d, %d; want 3, 4", recs[0].Offset, recs[1].Offset)
	}
}

// TestFetchInsideBatch reads from an offset in the middle of a batch: the
// broker returns the whole batch that contains the offset (Kafka reads
// whole batches from the segment), and the client skips the records
// before its position.
func TestFetchInsideBatch(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("inside", 1, nil)
	var recs []rawRecord
	for i := 0; i < 10; i++ {
		recs = append(recs, rawRecord{value: fmt.Appendf(nil, "v%d", i), tsDelta: int64(i)})
	}
	r := e.produceRaw("inside", 0, 1, buildBatch(time.Now().UnixMilli(), recs...))
	wantCode(t, "produce 10-record batch", r.ErrorCode, nil)
	e.produceValues("inside", 0, "after", 1)

	p := fetchRaw(t, e.ctx, e.cl, "inside", [16]byte{}, 0, 5, 1<<20)
	wantCode(t, "fetch at 5", p.ErrorCode, nil)
	bs := batches(t, p.RecordBatches)
	if len(bs) == 0 || bs[0].FirstOffset != 0 || bs[0].LastOffsetDelta != 9 {
		t.Fatalf("fetch at 5 did not start with the batch 0-9")
	}

	got := e.consume(map[string]map[int32]kgo.Offset{"inside": {0: kgo.NewOffset().At(5)}}, 6)
	for i, r := range got {
		want := fmt.Sprintf("v%d", i+5)
		if i == 5 {
			want = "after-0"
		}
		if r.Offset != int64(i+5) || string(r.Value) != want {
			t.Errorf("record %d: %q at %d", i, r.Value, r.Offset)
		}
	}
}

// TestFetchPartitionErrors: Fetch v13+ names topics by id, and an
// unknown id is UNKNOWN_TOPIC_ID (KIP-516); an unknown partition of a
// known topic is UNKNOWN_TOPIC_OR_PARTITION; a current_leader_epoch
// newer than the leader's is UNKNOWN_LEADER_EPOCH (KIP-320). Errors on
// one partition do not stop the others, and read_committed reads plain
// (non-transactional) records.
func TestFetchPartitionErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("fe", 1, nil)
	e.produceValues("fe", 0, "v", 3)
	id := e.topicID("fe")
	rc := dialRaw(t, e.c.Addr())

	resp := fetchVia(t, rc, fetchReq(18, 0, -1, 0, 1, 1<<20,
		fetchPart{id: id, partition: 0, maxBytes: 1 << 20},
		fetchPart{id: id, partition: 7, maxBytes: 1 << 20},
		fetchPart{id: [16]byte{1}, partition: 0, maxBytes: 1 << 20}))
	got := partitionsOf(resp, map[[16]byte]string{id: "fe", {1}: "unknown"})
	wantCode(t, "known partition", got["fe/0"].ErrorCode, nil)
	if len(batches(t, got["fe/0"].RecordBatches)) == 0 {
		t.Error("known partition returned no data next to failing ones")
	}
	wantCode(t, "unknown partition", got["fe/7"].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "unknown topic id", got["unknown/0"].ErrorCode, kerr.UnknownTopicID)

	req := fetchReq(12, 0, -1, 0, 1, 1<<20, fetchPart{topic: "fe", maxBytes: 1 << 20})
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = 5
	p5 := fetchVia(t, rc, req).Topics[0].Partitions[0]
	wantCode(t, "current leader epoch 5", p5.ErrorCode, kerr.UnknownLeaderEpoch)
	if p5.HighWatermark != -1 || p5.LastStableOffset != -1 || p5.LogStartOffset != -1 {
		// Kafka's createLogReadResult(e): a failed read knows no offsets.
		t.Errorf("failed read: high watermark %d, last stable %d, log start %d; want -1 each", p5.HighWatermark, p5.LastStableOffset, p5.LogStartOffset)
	}
	req = fetchReq(12, 0, -1, 0, 1, 1<<20, fetchPart{topic: "fe", maxBytes: 1 << 20})
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = 0
	wantCode(t, "current leader epoch 0", fetchVia(t, rc, req).Topics[0].Partitions[0].ErrorCode, nil)

	req = fetchReq(12, 0, -1, 0, 1, 1<<20, fetchPart{topic: "fe", maxBytes: 1 << 20})
	req.IsolationLevel = 1
	p := fetchVia(t, rc, req).Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.LastStableOffset != 3 || len(batches(t, p.RecordBatches)) == 0 {
		t.Errorf("read_committed fetch: %v, last stable offset %d", codeErr(p.ErrorCode), p.LastStableOffset)
	}
	recs := e.consumeAll("fe", 1, 3, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if string(recs[2].Value) != "v-2" {
		t.Errorf("read_committed consumer read %q", recs[2].Value)
	}
}
