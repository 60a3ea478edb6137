package transactions

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// Transactions V2 (KIP-890 part 2) and partition verification (part 1),
// at the versions Kafka 4 serves them:
//   - ApiVersions finalizes transaction.version 2 on a new cluster;
//   - a producer of transaction version 2 sends no AddPartitionsToTxn: a
//     Produce v12+ batch makes the partition leader add the partition
//     (AddPartitionsToTxn v5 to the coordinator, in process or over the
//     network), a TxnOffsetCommit v5 the group's __consumer_offsets
//     partition;
//   - EndTxn v5 bumps the epoch and answers the next one; the markers
//     carry the bumped epoch, which fences the old epoch's late writes;
//   - older producers (Produce ≤ 11, TxnOffsetCommit ≤ 4) are verified:
//     a batch for a partition not in the transaction is refused
//     (INVALID_TXN_STATE, or TRANSACTION_ABORTABLE from v11), a fenced
//     epoch's with INVALID_PRODUCER_EPOCH, and nothing is appended.

// txnBatch is a transactional batch of one record per value.
func txnBatch(t *testing.T, pid int64, epoch int16, seq int32, values ...string) []byte {
	t.Helper()
	recs := make([]record.Record, len(values))
	for i, v := range values {
		recs[i] = record.Record{OffsetDelta: int32(i), Value: []byte(v)}
	}
	b, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch, BaseTimestamp: time.Now().UnixMilli(), Transactional: true,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
	}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produceTxn sends one transactional batch at Produce version to a
// partition and returns its error code (acks=all).
func (tc *txnConn) produceTxn(version int16, topic string, partition int32, batch []byte) int16 {
	tc.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis, req.TransactionID = version, -1, 30000, &tc.id
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return tc.c(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

// endV5 ends the transaction with EndTxn v5 (transaction version 2) and
// returns the code and the producer id and epoch answered.
func (tc *txnConn) endV5(commit bool) (int16, int64, int16) {
	tc.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = 5
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = tc.id, tc.pid, tc.epoch, commit
	var resp *kmsg.EndTxnResponse
	code := tc.retry(req, func(r kmsg.Response) int16 { resp = r.(*kmsg.EndTxnResponse); return resp.ErrorCode })
	return code, resp.ProducerID, resp.ProducerEpoch
}

func (tc *txnConn) findCoordinator() {
	tc.t.Helper()
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKey = 3, 1, tc.id
	if code := tc.retry(fc, func(r kmsg.Response) int16 { return r.(*kmsg.FindCoordinatorResponse).ErrorCode }); code != 0 {
		tc.t.Fatalf("FindCoordinator: %v", kerr.ErrorForCode(code))
	}
}

// txnPartitions lists the partitions the coordinator has in the
// transaction of id, as "topic-partition".
func txnPartitions(d kadm.DescribedTransaction) []string {
	var out []string
	for _, tp := range d.Topics.Sorted() {
		for _, p := range tp.Partitions {
			out = append(out, fmt.Sprintf("%s-%d", tp.Topic, p))
		}
	}
	return out
}

// A new cluster advertises transaction.version 2 as supported (0-2) and
// finalized, as Kafka 4.0 formats one (metadata.version 4.0-IV3).
func TestTV2FeatureAdvertised(t *testing.T) {
	t.Parallel()
	c := start(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 4
	req.ClientSoftwareName, req.ClientSoftwareVersion = "tv2-test", "1"
	resp := rawRequester(t, c.Addr())(req).(*kmsg.ApiVersionsResponse)
	supported := map[string][2]int16{}
	for _, f := range resp.SupportedFeatures {
		supported[f.Name] = [2]int16{f.MinVersion, f.MaxVersion}
	}
	finalized := map[string][2]int16{}
	for _, f := range resp.FinalizedFeatures {
		finalized[f.Name] = [2]int16{f.MinVersionLevel, f.MaxVersionLevel}
	}
	if supported["transaction.version"] != [2]int16{0, 2} || finalized["transaction.version"] != [2]int16{2, 2} ||
		finalized["metadata.version"] != [2]int16{25, 25} || resp.FinalizedFeaturesEpoch < 0 {
		t.Fatalf("supported %v, finalized %v, epoch %d", supported, finalized, resp.FinalizedFeaturesEpoch)
	}
}

// The TV2 protocol with raw requests: produce without
// AddPartitionsToTxn, EndTxn v5's epoch bump (and its retry), markers at
// the bumped epoch, the old epoch fenced.
func TestTV2RawProtocol(t *testing.T) {
	t.Parallel()
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "t2", 2, 1)
	tc := &txnConn{t: t, id: "tx-v2", c: rawRequester(t, c.Addr())}
	tc.findCoordinator()
	tc.initProducerID()
	pid, e0 := tc.pid, tc.epoch

	// Produce v12: the leader adds each partition to the transaction.
	for p := range int32(2) {
		if code := tc.produceTxn(12, "t2", p, txnBatch(t, pid, e0, 0, fmt.Sprintf("one-%d", p))); code != 0 {
			t.Fatalf("produce v12 to t2-%d: %v", p, kerr.ErrorForCode(code))
		}
	}
	d := waitState(t, adm, tc.id, "Ongoing")
	if got := txnPartitions(d); !slices.Equal(got, []string{"t2-0", "t2-1"}) {
		t.Fatalf("partitions in the transaction: %v", got)
	}
	// A second batch of the open transaction needs no coordinator.
	if code := tc.produceTxn(12, "t2", 0, txnBatch(t, pid, e0, 1, "two-0")); code != 0 {
		t.Fatalf("second batch: %v", kerr.ErrorForCode(code))
	}

	code, nextPID, e1 := tc.endV5(true)
	if code != 0 || nextPID != pid || e1 != e0+1 {
		t.Fatalf("EndTxn v5 commit: %v, producer %d epoch %d, want %d/%d", kerr.ErrorForCode(code), nextPID, e1, pid, e0+1)
	}
	// A retry of the same EndTxn (the client lost the answer) gets the
	// same answer.
	if code, rpid, repoch := tc.endV5(true); code != 0 || rpid != pid || repoch != e1 {
		t.Fatalf("EndTxn v5 retry: %v, producer %d epoch %d", kerr.ErrorForCode(code), rpid, repoch)
	}
	waitState(t, adm, tc.id, "CompleteCommit")
	for p := range int32(2) {
		es := rawLog(t, adm, seeds, "t2", p)
		last := es[len(es)-1]
		if !last.control || !last.commit || last.epoch != e1 {
			t.Fatalf("t2-%d: %v, want a COMMIT marker at epoch %d last", p, es, e1)
		}
	}

	// The next transaction at the bumped epoch, sequences from 0.
	tc.epoch = e1
	if code := tc.produceTxn(12, "t2", 0, txnBatch(t, pid, e1, 0, "aborted-0")); code != 0 {
		t.Fatalf("produce at epoch %d: %v", e1, kerr.ErrorForCode(code))
	}
	// A zombie of the old epoch writes late to the other partition: the
	// coordinator refuses to add it (fenced), nothing is appended.
	before := rawLog(t, adm, seeds, "t2", 1)
	if code := tc.produceTxn(12, "t2", 1, txnBatch(t, pid, e0, 2, "zombie")); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("late write at epoch %d: %v, want INVALID_PRODUCER_EPOCH", e0, kerr.ErrorForCode(code))
	}
	// And to the partition of the open transaction: fenced by the
	// partition's producer state (the marker moved it to epoch e1).
	if code := tc.produceTxn(12, "t2", 0, txnBatch(t, pid, e0, 2, "zombie")); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("late write at epoch %d to the open partition: %v", e0, kerr.ErrorForCode(code))
	}
	code, _, e2 := tc.endV5(false)
	if code != 0 || e2 != e1+1 {
		t.Fatalf("EndTxn v5 abort: %v, epoch %d", kerr.ErrorForCode(code), e2)
	}
	waitState(t, adm, tc.id, "CompleteAbort")
	if after := rawLog(t, adm, seeds, "t2", 1); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("t2-1 changed: %v, was %v", after, before)
	}
	es := rawLog(t, adm, seeds, "t2", 0)
	if got := markers(es); !slices.Equal(got, []string{"COMMIT", "ABORT"}) || es[len(es)-1].epoch != e2 {
		t.Fatalf("t2-0: %v", es)
	}
	got := consumeAll(t, seeds, "t2", 3, kgo.ReadCommitted())
	if !slices.Equal(got[0], []string{"one-0", "two-0"}) || !slices.Equal(got[1], []string{"one-1"}) {
		t.Fatalf("read_committed: %v", got)
	}
}

// TxnOffsetCommit is verified too: v5 (TV2) adds the group's
// __consumer_offsets partition, v3 without AddOffsetsToTxn is refused.
func TestTV2TxnOffsetCommit(t *testing.T) {
	t.Parallel()
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "in", 1, 1)
	const group, topic = "g-tv2", "in"
	tc := &txnConn{t: t, id: "tx-o2", c: rawRequester(t, c.Addr())}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKey = 3, 0, group
	tc.retry(fc, func(r kmsg.Response) int16 { return r.(*kmsg.FindCoordinatorResponse).ErrorCode })
	tc.findCoordinator()
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
	commit := func(version int16, offset int64) int16 {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.Version = version
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = tc.id, group, tc.pid, tc.epoch
		req.Generation = -1
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

	// v3 without AddOffsetsToTxn: the partition is not in the transaction.
	if code := commit(3, 5); code != kerr.InvalidTxnState.Code {
		t.Fatalf("TxnOffsetCommit v3 without AddOffsetsToTxn: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	if off, code := tc.fetchOffset(group, topic, true); code != 0 || off != 3 {
		t.Fatalf("after the refused commit: %d %v, want the committed 3 and nothing pending", off, kerr.ErrorForCode(code))
	}
	// v5: the leader adds the partition.
	if code := commit(5, 7); code != 0 {
		t.Fatalf("TxnOffsetCommit v5: %v", kerr.ErrorForCode(code))
	}
	if got := txnPartitions(describe(t, adm, tc.id)); len(got) != 1 || got[0][:len("__consumer_offsets")] != "__consumer_offsets" {
		t.Fatalf("partitions in the transaction: %v", got)
	}
	if _, code := tc.fetchOffset(group, topic, true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable fetch in the transaction: %v", kerr.ErrorForCode(code))
	}
	code, _, e1 := tc.endV5(true)
	if code != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(code))
	}
	waitFor(t, "transactional offset committed", func() (bool, string) {
		off, code := tc.fetchOffset(group, topic, true)
		return code == 0 && off == 7, fmt.Sprint(off, kerr.ErrorForCode(code))
	})
	// The next transaction (the bumped epoch) right away, then aborted.
	tc.epoch = e1
	if code := commit(5, 9); code != 0 {
		t.Fatalf("TxnOffsetCommit v5 at epoch %d: %v", e1, kerr.ErrorForCode(code))
	}
	if code, _, _ := tc.endV5(false); code != 0 {
		t.Fatalf("EndTxn abort: %v", kerr.ErrorForCode(code))
	}
	waitState(t, adm, tc.id, "CompleteAbort")
	if off, code := tc.fetchOffset(group, topic, true); code != 0 || off != 7 {
		t.Fatalf("after the abort: %d %v, want 7", off, kerr.ErrorForCode(code))
	}
}

// Partition verification for producers of transaction versions 0 and 1
// (KIP-890 part 1): a zombie's late write to a partition its
// transaction never added, or after it was fenced, is refused and
// nothing is appended (Kafka before verification took it and left a
// hanging transaction).
func TestTV1ZombieLateWrite(t *testing.T) {
	t.Parallel()
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "z", 2, 1)
	a := &txnConn{t: t, id: "tx-z", c: rawRequester(t, c.Addr())}
	a.findCoordinator()
	a.initProducerID()
	addPartition := func(tc *txnConn, partition int32) {
		t.Helper()
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 3
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = tc.id, tc.pid, tc.epoch
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = "z", []int32{partition}
		req.Topics = append(req.Topics, rt)
		code := tc.retry(req, func(r kmsg.Response) int16 {
			return r.(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions[0].ErrorCode
		})
		if code != 0 {
			t.Fatalf("AddPartitionsToTxn: %v", kerr.ErrorForCode(code))
		}
	}
	addPartition(a, 0)
	if code := a.produceTxn(11, "z", 0, txnBatch(t, a.pid, a.epoch, 0, "a")); code != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(code))
	}
	// Not added: refused, with the code each version knows.
	if code := a.produceTxn(10, "z", 1, txnBatch(t, a.pid, a.epoch, 0, "not-added")); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce v10 to a partition not in the transaction: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	if code := a.produceTxn(11, "z", 1, txnBatch(t, a.pid, a.epoch, 0, "not-added")); code != kerr.TransactionAbortable.Code {
		t.Fatalf("produce v11 to a partition not in the transaction: %v, want TRANSACTION_ABORTABLE", kerr.ErrorForCode(code))
	}

	// Producer b takes over the transactional id: a is fenced and its
	// transaction aborted.
	b := &txnConn{t: t, id: a.id, c: rawRequester(t, c.Addr())}
	b.initProducerID()
	if b.pid != a.pid || b.epoch <= a.epoch {
		t.Fatalf("b: producer %d epoch %d, a: %d/%d", b.pid, b.epoch, a.pid, a.epoch)
	}
	waitFor(t, "a's transaction aborted", func() (bool, string) {
		es := rawLog(t, adm, seeds, "z", 0)
		return slices.Equal(markers(es), []string{"ABORT"}), fmt.Sprint(es)
	})
	addPartition(b, 0)
	if code := b.produceTxn(11, "z", 0, txnBatch(t, b.pid, b.epoch, 0, "b")); code != 0 {
		t.Fatalf("b produce: %v", kerr.ErrorForCode(code))
	}
	// a's late writes: to the partition b's transaction does not have,
	// and to the one it has.
	for p := range int32(2) {
		if code := a.produceTxn(11, "z", p, txnBatch(t, a.pid, a.epoch, 1, "zombie")); code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("zombie write to z-%d: %v, want INVALID_PRODUCER_EPOCH", p, kerr.ErrorForCode(code))
		}
	}
	if es := rawLog(t, adm, seeds, "z", 1); len(es) != 0 {
		t.Fatalf("z-1 has %v; nothing was in a transaction there", es)
	}
	if code := b.end(true); code != 0 {
		t.Fatalf("b commit: %v", kerr.ErrorForCode(code))
	}
	waitState(t, adm, b.id, "CompleteCommit")
	if got := values(rawLog(t, adm, seeds, "z", 0)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("z-0 data: %v", got)
	}
	got := consumeAll(t, seeds, "z", 1, kgo.ReadCommitted())
	if !slices.Equal(got[0], []string{"b"}) {
		t.Fatalf("read_committed: %v", got)
	}
}

// kgo's transactional producer against a TV2 cluster: it ends every
// transaction with EndTxn v5 (each marker one epoch above the last) and
// its produce requests add the partitions; on three nodes, where the
// partitions' leaders reach the coordinator over the network.
func TestTV2KgoProducer(t *testing.T) {
	t.Parallel()
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			var seeds []string
			if nodes == 1 {
				seeds = []string{start(t).Addr()}
			} else {
				c := kafkatest.StartCluster(t, nodes, kafkatest.Dir(t.TempDir()))
				for _, id := range c.NodeIDs() {
					seeds = append(seeds, c.BrokerAddr(id))
				}
			}
			adm := admin(t, seeds...)
			const topic = "kv2"
			createTopic(t, adm, topic, 3, 1)
			cl := txnProducer(t, seeds, "tx-kgo-v2", topic)
			ctx := testContext(t)
			for i, commit := range []bool{true, false, true} {
				if err := cl.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				for p := range int32(3) {
					produce(t, cl, p, fmt.Sprintf("txn%d-%d", i, p))
				}
				if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
					t.Fatalf("end transaction %d: %v", i, err)
				}
			}
			waitState(t, adm, "tx-kgo-v2", "CompleteCommit")
			for p := range int32(3) {
				var es []entry
				waitFor(t, fmt.Sprintf("three markers in %s-%d", topic, p), func() (bool, string) {
					es = rawLog(t, adm, seeds, topic, p)
					return len(markers(es)) == 3, fmt.Sprint(es)
				})
				var epochs []int16
				for _, e := range es {
					if e.control {
						epochs = append(epochs, e.epoch)
					}
				}
				if !slices.Equal(markers(es), []string{"COMMIT", "ABORT", "COMMIT"}) || epochs[1] != epochs[0]+1 || epochs[2] != epochs[1]+1 {
					t.Fatalf("%s-%d: %v, want a marker per transaction, each one epoch above the last", topic, p, es)
				}
			}
			got := consumeAll(t, seeds, topic, 6, kgo.ReadCommitted())
			for p := range int32(3) {
				if want := []string{fmt.Sprintf("txn0-%d", p), fmt.Sprintf("txn2-%d", p)}; !slices.Equal(got[p], want) {
					t.Fatalf("read_committed %s-%d: %v, want %v", topic, p, got[p], want)
				}
			}
		})
	}
}

// finalizedTV returns the transaction.version ApiVersions finalizes (0
// if none).
func finalizedTV(t *testing.T, addr string) int16 {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	resp := rawRequester(t, addr)(req).(*kmsg.ApiVersionsResponse)
	for _, f := range resp.FinalizedFeatures {
		if f.Name == "transaction.version" {
			return f.MaxVersionLevel
		}
	}
	return 0
}

// UpdateFeatures (KIP-584) moves transaction.version: a downgrade needs
// a downgrade upgrade type; at level 0 kgo speaks transaction version 0
// (its markers stay at the data's epoch), back at 2 it bumps again.
func TestTransactionVersionUpdate(t *testing.T) {
	t.Parallel()
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "tvu", 1, 1)
	ctx := testContext(t)
	update := func(level int16, upgradeType int8) error {
		t.Helper()
		r, err := adm.UpdateFeatures(ctx, false, kadm.FeatureUpdate{Feature: "transaction.version", MaxVersionLevel: level, UpgradeType: upgradeType})
		if err != nil {
			return err
		}
		return r.Error()
	}
	if err := update(0, 1); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("downgrade as an upgrade: %v, want INVALID_UPDATE_VERSION", err)
	}
	if err := update(3, 1); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("unsupported level: %v, want INVALID_UPDATE_VERSION", err)
	}
	if err := update(0, 2); err != nil {
		t.Fatal(err)
	}
	if tv := finalizedTV(t, c.Addr()); tv != 0 {
		t.Fatalf("finalized transaction.version %d after the downgrade", tv)
	}
	twoTxns := func(id string) []entry {
		t.Helper()
		cl := txnProducer(t, seeds, id, "tvu")
		for i := range 2 {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			produce(t, cl, 0, fmt.Sprintf("%s-%d", id, i))
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
		waitState(t, adm, id, "CompleteCommit")
		var mine []entry
		for _, e := range rawLog(t, adm, seeds, "tvu", 0) {
			if e.producerID == describe(t, adm, id).ProducerID {
				mine = append(mine, e)
			}
		}
		return mine
	}
	// TV0: data and markers at the producer's one epoch.
	es := twoTxns("tx-tv0")
	if len(es) != 4 || !es[1].control || !es[3].control || es[0].epoch != es[3].epoch {
		t.Fatalf("transaction version 0: %v, want data and markers at one epoch", es)
	}
	if err := update(2, 1); err != nil {
		t.Fatal(err)
	}
	if tv := finalizedTV(t, c.Addr()); tv != 2 {
		t.Fatalf("finalized transaction.version %d after the upgrade", tv)
	}
	// TV2: every marker one epoch above its transaction's data.
	es = twoTxns("tx-tv2")
	if len(es) != 4 || es[1].epoch != es[0].epoch+1 || es[2].epoch != es[1].epoch || es[3].epoch != es[2].epoch+1 {
		t.Fatalf("transaction version 2: %v, want each marker one epoch above its data", es)
	}
}
