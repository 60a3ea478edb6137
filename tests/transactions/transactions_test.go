package transactions

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// Committed and aborted transactions leave their records followed by a
// marker of the transaction's producer on each partition (KIP-98:
// WriteTxnMarkers); a read_uncommitted consumer gets every record and no
// marker.
func TestCommitAndAbort(t *testing.T) {
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "t", 2, 1)
	cl := txnProducer(t, seeds, "tx-a", "t")
	ctx := testContext(t)

	txn := func(end kgo.TransactionEndTry, recs map[int32][]string) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p, vs := range recs {
			produce(t, cl, p, vs...)
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatalf("end transaction: %v", err)
		}
	}
	txn(kgo.TryCommit, map[int32][]string{0: {"a1"}, 1: {"a2", "a3"}})
	txn(kgo.TryAbort, map[int32][]string{0: {"b1"}})
	txn(kgo.TryCommit, map[int32][]string{1: {"c1"}})

	// The last transaction's state once its markers are written.
	d := waitState(t, adm, "tx-a", "CompleteCommit")
	if len(d.Topics) != 0 {
		t.Fatalf("partitions left in a complete transaction: %v", d.Topics)
	}
	want := map[int32][]string{
		0: {"0:a1", "1:COMMIT", "2:b1", "3:ABORT"},
		1: {"0:a2", "1:a3", "2:COMMIT", "3:c1", "4:COMMIT"},
	}
	for p, w := range want {
		es := rawLog(t, adm, seeds, "t", p)
		var got []string
		for _, e := range es {
			s := fmt.Sprintf("%d:%s", e.offset, e.value)
			if e.control {
				s = fmt.Sprintf("%d:%s", e.offset, markers([]entry{e})[0])
				if e.producerID != d.ProducerID {
					t.Fatalf("marker %v of producer %d, want %d", e, e.producerID, d.ProducerID)
				}
			}
			got = append(got, s)
		}
		if !slices.Equal(got, w) {
			t.Fatalf("partition %d: %v, want %v", p, got, w)
		}
	}
	got := consumeAll(t, seeds, "t", 5, kgo.ReadUncommitted())
	if !slices.Equal(got[0], []string{"a1", "b1"}) || !slices.Equal(got[1], []string{"a2", "a3", "c1"}) {
		t.Fatalf("read_uncommitted consumer got %v", got)
	}
}

// A second producer with the same transactional.id fences the first:
// its InitProducerId aborts the open transaction (with a bumped epoch),
// and the zombie's next request is refused with PRODUCER_FENCED or
// INVALID_PRODUCER_EPOCH (KIP-98 zombie fencing, KIP-588).
func TestZombieFencing(t *testing.T) {
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "t", 2, 1)
	ctx := testContext(t)

	zombie := txnProducer(t, seeds, "tx-f", "t")
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, zombie, 0, "z1")
	zd := describe(t, adm, "tx-f")
	if zd.State != "Ongoing" {
		t.Fatalf("zombie's transaction is %s", zd.State)
	}

	fresh := txnProducer(t, seeds, "tx-f", "t")
	if err := fresh.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, fresh, 1, "f1")
	if err := fresh.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("fresh producer's commit: %v", err)
	}

	// The zombie: a produce to its partition meets the abort marker's
	// newer epoch, a new partition or the end of its transaction the
	// coordinator's.
	var errs []error
	r := kgo.StringRecord("z2")
	r.Partition = 0
	errs = append(errs, zombie.ProduceSync(ctx, r).FirstErr())
	errs = append(errs, zombie.EndTransaction(ctx, kgo.TryCommit))
	fenced := false
	for _, err := range errs {
		fenced = fenced || isFenced(err)
	}
	if !fenced || errs[1] == nil {
		t.Fatalf("zombie not fenced: produce %v, end %v", errs[0], errs[1])
	}

	p0 := rawLog(t, adm, seeds, "t", 0)
	if got := fmt.Sprint(p0); len(p0) != 2 || p0[0].value != "z1" || !p0[1].control || p0[1].commit {
		t.Fatalf("zombie's partition: %s, want z1 then an abort marker", got)
	}
	if p0[1].epoch <= zd.ProducerEpoch {
		t.Fatalf("fencing abort at epoch %d, zombie's epoch %d", p0[1].epoch, zd.ProducerEpoch)
	}
	p1 := rawLog(t, adm, seeds, "t", 1)
	if len(p1) != 2 || p1[0].value != "f1" || !p1[1].commit {
		t.Fatalf("fresh producer's partition: %v", p1)
	}
}

// A transaction open longer than transaction.timeout.ms is aborted by
// the coordinator (transaction.abort.timed.out.transaction.cleanup.interval.ms),
// which fences its producer.
func TestTransactionTimeout(t *testing.T) {
	c := start(t, kafkatest.Config("transaction.abort.timed.out.transaction.cleanup.interval.ms", "100"))
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "t", 1, 1)
	// The timeout runs from AddPartitionsToTxn: it must outlast the
	// produce that follows it on a loaded machine, or the coordinator
	// aborts first and fences that produce.
	cl := txnProducer(t, seeds, "tx-t", "t", kgo.TransactionTimeout(3*time.Second))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, 0, "t1")
	d := waitState(t, adm, "tx-t", "CompleteAbort")
	es := rawLog(t, adm, seeds, "t", 0)
	if len(es) != 2 || es[0].value != "t1" || !es[1].control || es[1].commit {
		t.Fatalf("log after the timeout: %v, want t1 then an abort marker", es)
	}
	if err := cl.EndTransaction(testContext(t), kgo.TryCommit); err == nil || !isFenced(err) {
		t.Fatalf("commit after the timeout abort: %v, want fenced (producer epoch now %d)", err, d.ProducerEpoch)
	}
}

// txnConn speaks the transactional protocol with raw requests to a
// single node.
type txnConn struct {
	t     *testing.T
	c     func(kmsg.Request) kmsg.Response
	id    string
	pid   int64
	epoch int16
}

// retry sends req until code(resp) is not a retriable coordinator error.
func (tc *txnConn) retry(req kmsg.Request, code func(kmsg.Response) int16) int16 {
	tc.t.Helper()
	var last int16
	waitFor(tc.t, kmsg.NameForKey(req.Key()), func() (bool, string) {
		last = code(tc.c(req))
		switch last {
		case kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.NotCoordinator.Code, kerr.ConcurrentTransactions.Code:
			return false, kerr.ErrorForCode(last).Error()
		}
		return true, ""
	})
	return last
}

func (tc *txnConn) initProducerID() {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	req.TransactionalID, req.TransactionTimeoutMillis = &tc.id, 60000
	var resp *kmsg.InitProducerIDResponse
	code := tc.retry(req, func(r kmsg.Response) int16 { resp = r.(*kmsg.InitProducerIDResponse); return resp.ErrorCode })
	if code != 0 {
		tc.t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(code))
	}
	tc.pid, tc.epoch = resp.ProducerID, resp.ProducerEpoch
}

func (tc *txnConn) addOffsets(group string) int16 {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.Version = 3
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = tc.id, tc.pid, tc.epoch, group
	return tc.retry(req, func(r kmsg.Response) int16 { return r.(*kmsg.AddOffsetsToTxnResponse).ErrorCode })
}

func (tc *txnConn) txnCommit(group, topic string, offset int64) int16 {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 3
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = tc.id, group, tc.pid, tc.epoch
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return tc.retry(req, func(r kmsg.Response) int16 {
		return r.(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	})
}

func (tc *txnConn) end(commit bool) int16 {
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = 3
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = tc.id, tc.pid, tc.epoch, commit
	return tc.retry(req, func(r kmsg.Response) int16 { return r.(*kmsg.EndTxnResponse).ErrorCode })
}

// fetchOffset answers OffsetFetch (v7) for partition 0 of topic.
func (tc *txnConn) fetchOffset(group, topic string, requireStable bool) (int64, int16) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group, req.RequireStable = group, requireStable
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp := tc.c(req).(*kmsg.OffsetFetchResponse)
	if resp.ErrorCode != 0 {
		return -1, resp.ErrorCode
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// TxnOffsetCommit offsets are invisible until the transaction commits
// (require_stable fetches answer UNSTABLE_OFFSET_COMMIT meanwhile,
// KIP-447) and dropped when it aborts.
func TestTxnOffsetCommit(t *testing.T) {
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "in", 1, 1)
	tc := &txnConn{t: t, id: "tx-o", c: rawRequester(t, c.Addr())}
	const group, topic = "g-txn", "in"
	// FindCoordinator creates the internal topics.
	for kt, key := range map[int8]string{0: group, 1: tc.id} {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorType, fc.CoordinatorKey = 3, kt, key
		if code := tc.retry(fc, func(r kmsg.Response) int16 { return r.(*kmsg.FindCoordinatorResponse).ErrorCode }); code != 0 {
			t.Fatalf("FindCoordinator %d %s: %v", kt, key, kerr.ErrorForCode(code))
		}
	}
	// A regular commit first (it also creates __consumer_offsets).
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.Generation = 7, group, -1
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = topic
	op := kmsg.NewOffsetCommitRequestTopicPartition()
	op.Partition, op.Offset, op.LeaderEpoch = 0, 3, -1
	ot.Partitions = append(ot.Partitions, op)
	oc.Topics = append(oc.Topics, ot)
	if code := tc.retry(oc, func(r kmsg.Response) int16 { return r.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode }); code != 0 {
		t.Fatalf("OffsetCommit: %v", kerr.ErrorForCode(code))
	}

	tc.initProducerID()
	if code := tc.addOffsets(group); code != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	if code := tc.txnCommit(group, topic, 7); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	if off, code := tc.fetchOffset(group, topic, true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable fetch in the transaction: %d %v, want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
	}
	if off, code := tc.fetchOffset(group, topic, false); code != 0 || off != 3 {
		t.Fatalf("fetch in the transaction: %d %v, want the committed 3", off, kerr.ErrorForCode(code))
	}
	if code := tc.end(true); code != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(code))
	}
	waitFor(t, "transactional offset committed", func() (bool, string) {
		off, code := tc.fetchOffset(group, topic, true)
		return code == 0 && off == 7, fmt.Sprint(off, kerr.ErrorForCode(code))
	})

	// An aborted transaction's offset is dropped.
	if code := tc.addOffsets(group); code != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	if code := tc.txnCommit(group, topic, 9); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	if code := tc.end(false); code != 0 {
		t.Fatalf("EndTxn abort: %v", kerr.ErrorForCode(code))
	}
	waitFor(t, "aborted transactional offset dropped", func() (bool, string) {
		off, code := tc.fetchOffset(group, topic, true)
		return code == 0 && off == 7, fmt.Sprint(off, kerr.ErrorForCode(code))
	})
	// The group's partition of __consumer_offsets holds both markers.
	waitState(t, adm, "tx-o", "CompleteAbort")

	// Offsets survive a restart: the log replays records and markers.
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "offset after restart", func() (bool, string) {
		off, code := tc.fetchOffset(group, topic, true)
		return code == 0 && off == 7, fmt.Sprint(off, kerr.ErrorForCode(code))
	})
}

// GroupTransactSession (consume, produce, commit the consumed offsets in
// the same transaction): committed offsets follow committed transactions
// only.
func TestGroupTransactSession(t *testing.T) {
	c := start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "in", 2, 1)
	createTopic(t, adm, "out", 2, 1)
	ctx := testContext(t)
	in := client(t, seeds, kgo.DefaultProduceTopic("in"))
	for i := range 20 {
		if err := in.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint("r", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const group = "etl"
	session := func() *kgo.GroupTransactSession {
		s, err := kgo.NewGroupTransactSession(
			kgo.SeedBrokers(seeds...),
			kgo.TransactionalID("tx-etl"),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics("in"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(),
			kgo.DefaultProduceTopic("out"),
		)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// run consumes n records in transactions ended with end.
	run := func(s *kgo.GroupTransactSession, n int, end kgo.TransactionEndTry) {
		t.Helper()
		got := 0
		for got < n {
			if err := s.Begin(); err != nil {
				t.Fatal(err)
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			fs := s.PollFetches(pctx)
			cancel()
			fs.EachError(func(topic string, p int32, err error) {
				if err != context.DeadlineExceeded {
					t.Fatalf("fetch %s-%d: %v", topic, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				got++
				s.Produce(ctx, kgo.StringRecord("out-"+string(r.Value)), nil)
			})
			committed, err := s.End(ctx, end)
			if err != nil {
				t.Fatalf("end: %v", err)
			}
			if end == kgo.TryCommit && got > 0 && !committed {
				t.Fatalf("session did not commit")
			}
		}
		if got != n {
			t.Fatalf("consumed %d records, want %d", got, n)
		}
	}
	committedOffsets := func() int64 {
		os, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		sum := int64(0)
		os.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}

	// Markers are written after EndTxn answers: the offsets become
	// visible once the group's partition has its marker.
	waitOffsets := func(want int64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("committed offsets sum %d", want), func() (bool, string) {
			got := committedOffsets()
			return got == want, fmt.Sprint(got)
		})
	}

	s := session()
	run(s, 20, kgo.TryCommit)
	s.Close()
	waitOffsets(20)
	out := consumeAll(t, seeds, "out", 20, kgo.ReadUncommitted())
	if n := len(out[0]) + len(out[1]); n != 20 {
		t.Fatalf("%d records out, want 20", n)
	}

	// Five more, consumed in an aborted transaction: the offsets stay;
	// the next session consumes them again and commits.
	for i := 20; i < 25; i++ {
		if err := in.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint("r", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	s = session()
	run(s, 5, kgo.TryAbort)
	s.Close()
	// Once the abort is complete (the producer may have initialized
	// again since: Empty), the offsets must still be the old ones.
	waitFor(t, "the abort complete", func() (bool, string) {
		d := describe(t, adm, "tx-etl")
		return d.State == "CompleteAbort" || d.State == "Empty", d.State
	})
	if got := committedOffsets(); got != 20 {
		t.Fatalf("committed offsets sum %d after an abort, want 20", got)
	}
	s = session()
	run(s, 5, kgo.TryCommit)
	s.Close()
	waitOffsets(25)
}

// AddPartitionsToTxn in both forms: the producer's (v3), where a missing
// partition fails the whole request, and the brokers' batched v4+ with
// verify_only (KIP-890 part 1) and a transactional id listed twice;
// ListTransactions filters (v2: a transactional id pattern, KIP-1152).
func TestAddPartitionsForms(t *testing.T) {
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "t", 2, 1)
	tc := &txnConn{t: t, id: "tx-add", c: rawRequester(t, c.Addr())}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKey = 3, 1, tc.id
	tc.retry(fc, func(r kmsg.Response) int16 { return r.(*kmsg.FindCoordinatorResponse).ErrorCode })
	tc.initProducerID()

	v3 := func(parts map[string][]int32) map[string]int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 3
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = tc.id, tc.pid, tc.epoch
		for topic, ps := range parts {
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = topic, ps
			req.Topics = append(req.Topics, rt)
		}
		out := map[string]int16{}
		for _, rt := range tc.c(req).(*kmsg.AddPartitionsToTxnResponse).Topics {
			for _, rp := range rt.Partitions {
				out[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)] = rp.ErrorCode
			}
		}
		return out
	}
	got := v3(map[string][]int32{"t": {0}, "missing": {0}})
	if got["t-0"] != kerr.OperationNotAttempted.Code || got["missing-0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("v3 with a missing partition: %v", got)
	}
	if got := v3(map[string][]int32{"t": {0}}); got["t-0"] != 0 {
		t.Fatalf("v3: %v", got)
	}

	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	for _, tr := range []struct {
		id     string
		parts  []int32
		verify bool
	}{{tc.id, []int32{0, 1}, true}, {tc.id, []int32{0}, true}, {"nobody", []int32{0}, true}} {
		rt := kmsg.NewAddPartitionsToTxnRequestTransaction()
		rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, rt.VerifyOnly = tr.id, tc.pid, tc.epoch, tr.verify
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = "t", tr.parts
		rt.Topics = append(rt.Topics, tt)
		req.Transactions = append(req.Transactions, rt)
	}
	resp := tc.c(req).(*kmsg.AddPartitionsToTxnResponse)
	if resp.ErrorCode != 0 || len(resp.Transactions) != 3 {
		t.Fatalf("v4: %+v", resp)
	}
	codes := func(i int) []int16 {
		var out []int16
		for _, rp := range resp.Transactions[i].Topics[0].Partitions {
			out = append(out, rp.ErrorCode)
		}
		return out
	}
	if got := codes(0); !slices.Equal(got, []int16{0, kerr.TransactionAbortable.Code}) {
		t.Fatalf("verify_only: %v, want t-0 in the transaction, t-1 not", got)
	}
	if got := codes(1); !slices.Equal(got, []int16{kerr.DuplicateResource.Code}) {
		t.Fatalf("second entry of the same id: %v", got)
	}
	if got := codes(2); !slices.Equal(got, []int16{kerr.InvalidProducerIDMapping.Code}) {
		t.Fatalf("unknown id: %v", got)
	}

	lt := kmsg.NewPtrListTransactionsRequest()
	lt.Version = 2
	pattern := "tx-a.*"
	lt.TransactionalIDPattern = &pattern
	lr := tc.c(lt).(*kmsg.ListTransactionsResponse)
	if lr.ErrorCode != 0 || len(lr.TransactionStates) != 1 || lr.TransactionStates[0].TransactionalID != tc.id ||
		lr.TransactionStates[0].TransactionState != "Ongoing" || lr.TransactionStates[0].ProducerID != tc.pid {
		t.Fatalf("ListTransactions by pattern: %+v", lr)
	}
	pattern = "other.*"
	lt.StateFilters = []string{"Ongoing", "NoSuchState"}
	lr = tc.c(lt).(*kmsg.ListTransactionsResponse)
	if lr.ErrorCode != 0 || len(lr.TransactionStates) != 0 || !slices.Equal(lr.UnknownStateFilters, []string{"NoSuchState"}) {
		t.Fatalf("ListTransactions filtered out: %+v", lr)
	}
}
