package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/coordinator"
)

func (h *harness) txnCommit(req TxnCommitRequest) CommitResponse {
	h.t.Helper()
	var out CommitResponse
	done := false
	if req.Group == "" {
		req.Group = "g"
	}
	if req.MemberID == "" && req.Generation == 0 {
		req.Generation = -1
	}
	h.apply(func(res *coordinator.Result) {
		h.s.TxnCommitOffsets(h.now, req, func(r CommitResponse) { out, done = r, true }, res)
	})
	if !done {
		h.t.Fatal("txn commit not answered")
	}
	return out
}

func (h *harness) marker(pid int64, commit bool) int16 {
	h.t.Helper()
	code := int16(-1)
	h.apply(func(res *coordinator.Result) {
		h.s.CompleteTransaction(coordinator.Marker{ProducerID: pid, ProducerEpoch: 0, CoordinatorEpoch: 1, Commit: commit}, func(c int16) { code = c }, res)
	})
	return code
}

func (h *harness) fetchStable(group string, topics []FetchTopic) FetchResponse {
	return h.s.FetchOffsets(h.now, FetchRequest{Group: group, MemberEpoch: -1, Topics: topics, RequireStable: true})
}

func offsetsOf(t *testing.T, r FetchResponse) map[int32][2]int64 {
	t.Helper()
	if r.ErrorCode != 0 {
		t.Fatalf("fetch error %v", kerr.ErrorForCode(r.ErrorCode))
	}
	out := map[int32][2]int64{}
	for _, tr := range r.Topics {
		for _, p := range tr.Partitions {
			out[p.Partition] = [2]int64{p.Offset, int64(p.ErrorCode)}
		}
	}
	return out
}

func txnTopic(offsets ...int64) []CommitTopic {
	ct := CommitTopic{Topic: "t"}
	for i, o := range offsets {
		ct.Partitions = append(ct.Partitions, CommitPartition{Partition: int32(i), Offset: o, LeaderEpoch: -1})
	}
	return []CommitTopic{ct}
}

// Transactional offsets are invisible until their producer's commit
// marker; require_stable fetches see UNSTABLE_OFFSET_COMMIT meanwhile; an
// abort marker drops them (Kafka's OffsetMetadataManager, KIP-447).
func TestTxnOffsetsCommitAndAbort(t *testing.T) {
	h := newHarness(t, testConfig())
	parts := []FetchTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	h.commit(CommitRequest{Generation: -1, Topics: txnTopic(5), RetentionMs: -1})

	resp := h.txnCommit(TxnCommitRequest{ProducerID: 100, Topics: txnTopic(10, 20)})
	for _, p := range resp.Topics[0].Partitions {
		wantCode(t, "txn commit", p.ErrorCode, 0)
	}
	if got := offsetsOf(t, h.fetch("g", parts)); got[0] != [2]int64{5, 0} || got[1] != [2]int64{-1, 0} {
		t.Fatalf("read_uncommitted fetch before the marker: %v", got)
	}
	unstable := int64(kerr.UnstableOffsetCommit.Code)
	if got := offsetsOf(t, h.fetchStable("g", parts)); got[0] != [2]int64{-1, unstable} || got[1] != [2]int64{-1, unstable} {
		t.Fatalf("require_stable fetch before the marker: %v", got)
	}
	// All offsets (topics nil): only committed partitions are listed.
	if got := offsetsOf(t, h.s.FetchOffsets(h.now, FetchRequest{Group: "g", MemberEpoch: -1, RequireStable: true})); len(got) != 1 || got[0] != [2]int64{-1, unstable} {
		t.Fatalf("require_stable fetch of all offsets: %v", got)
	}
	// Another producer's marker changes nothing.
	wantCode(t, "marker of another producer", h.marker(200, true), 0)
	if got := offsetsOf(t, h.fetch("g", parts)); got[0] != [2]int64{5, 0} {
		t.Fatalf("after another producer's marker: %v", got)
	}
	wantCode(t, "commit marker", h.marker(100, true), 0)
	if got := offsetsOf(t, h.fetchStable("g", parts)); got[0] != [2]int64{10, 0} || got[1] != [2]int64{20, 0} {
		t.Fatalf("after the commit marker: %v", got)
	}

	// An aborted transaction leaves the offsets as they were.
	h.txnCommit(TxnCommitRequest{ProducerID: 100, Topics: txnTopic(30, 40)})
	wantCode(t, "abort marker", h.marker(100, false), 0)
	if got := offsetsOf(t, h.fetchStable("g", parts)); got[0] != [2]int64{10, 0} || got[1] != [2]int64{20, 0} {
		t.Fatalf("after the abort marker: %v", got)
	}

	// A regular commit written after a transactional one wins over it.
	h.txnCommit(TxnCommitRequest{ProducerID: 300, Topics: txnTopic(50)})
	h.commit(CommitRequest{Generation: -1, Topics: txnTopic(45), RetentionMs: -1})
	h.marker(300, true)
	if got := offsetsOf(t, h.fetch("g", parts)); got[0] != [2]int64{45, 0} {
		t.Fatalf("regular commit after the transactional one: %v", got)
	}

	// Replaying the log (records and markers in order) gives the same
	// state, including a transaction still open.
	h.txnCommit(TxnCommitRequest{ProducerID: 400, Topics: txnTopic(60, 70)})
	h.restart()
	if got := offsetsOf(t, h.fetch("g", parts)); got[0] != [2]int64{45, 0} || got[1] != [2]int64{20, 0} {
		t.Fatalf("after reload: %v", got)
	}
	if got := offsetsOf(t, h.fetchStable("g", parts)); got[0][1] != unstable {
		t.Fatalf("open transaction lost on reload: %v", got)
	}
	h.marker(400, true)
	if got := offsetsOf(t, h.fetchStable("g", parts)); got[0] != [2]int64{60, 0} || got[1] != [2]int64{70, 0} {
		t.Fatalf("commit after reload: %v", got)
	}
}

// TxnOffsetCommit validates the group as Kafka's
// validateTransactionalOffsetCommit: a producer without the consumer's
// group metadata may commit to a group with members, one with it must
// be a member at the current generation.
func TestTxnOffsetCommitValidation(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, _ := stableGroup(t, h)
	gen := h.group("g").generation
	code := func(req TxnCommitRequest) int16 {
		return h.txnCommit(req).Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "anonymous", code(TxnCommitRequest{ProducerID: 1, Topics: txnTopic(1)}), 0)
	wantCode(t, "member", code(TxnCommitRequest{ProducerID: 1, Generation: gen, MemberID: leader, Topics: txnTopic(1)}), 0)
	wantCode(t, "stale generation", code(TxnCommitRequest{ProducerID: 1, Generation: gen - 1, MemberID: leader, Topics: txnTopic(1)}), kerr.IllegalGeneration.Code)
	wantCode(t, "unknown member", code(TxnCommitRequest{ProducerID: 1, Generation: gen, MemberID: "nobody", Topics: txnTopic(1)}), kerr.UnknownMemberID.Code)
	wantCode(t, "generation of a lost group", code(TxnCommitRequest{Group: "other", ProducerID: 1, Generation: 3, MemberID: "m", Topics: txnTopic(1)}), kerr.IllegalGeneration.Code)
	big := string(make([]byte, 5000))
	r := h.txnCommit(TxnCommitRequest{ProducerID: 1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 1, Metadata: &big}}}}})
	wantCode(t, "metadata too large", r.Topics[0].Partitions[0].ErrorCode, kerr.OffsetMetadataTooLarge.Code)

	// A failed write answers the write's code and leaves nothing pending.
	h.marker(1, false)
	h.failAppend = apierror.New(kerr.NotLeaderForPartition, "")
	wantCode(t, "failed write", code(TxnCommitRequest{ProducerID: 2, Topics: txnTopic(1)}), kerr.NotCoordinator.Code)
	wantCode(t, "failed marker", h.marker(2, true), kerr.NotCoordinator.Code)
	h.failAppend = nil
	if len(h.s.pendingTxn) != 0 {
		t.Fatalf("pending after failed writes: %v", h.s.pendingTxn)
	}
}

// Pending transactional offsets keep their partition from expiring and
// their group from being deleted; deleting the group drops them.
func TestTxnOffsetsExpirationAndDelete(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs = 1000
	cfg.OffsetsRetentionCheckIntervalMs = 1000
	h := newHarness(t, cfg)
	h.commit(CommitRequest{Group: "simple", Generation: -1, Topics: txnTopic(5, 6), RetentionMs: -1})
	h.txnCommit(TxnCommitRequest{Group: "simple", ProducerID: 7, Topics: txnTopic(8)})
	h.advance(5 * time.Second)
	got := offsetsOf(t, h.fetch("simple", []FetchTopic{{Topic: "t", Partitions: []int32{0, 1}}}))
	if got[0] != [2]int64{5, 0} || got[1] != [2]int64{-1, 0} {
		t.Fatalf("after expiration: %v (partition 0 must stay while pending)", got)
	}
	if _, ok := h.s.groups["simple"]; !ok {
		t.Fatal("group with pending offsets deleted by expiration")
	}
	var deleted []DeletedGroup
	h.apply(func(res *coordinator.Result) {
		h.s.DeleteGroups(h.now, []string{"simple"}, func(d []DeletedGroup) { deleted = d }, res)
	})
	wantCode(t, "delete", deleted[0].ErrorCode, 0)
	if len(h.s.pendingTxn) != 0 {
		t.Fatalf("pending offsets after delete: %v", h.s.pendingTxn)
	}
	h.marker(7, true)
	if got := h.fetch("simple", []FetchTopic{{Topic: "t", Partitions: []int32{0}}}); got.Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("deleted group's offsets came back with the marker: %+v", got)
	}
}
