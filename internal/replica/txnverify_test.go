package replica

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A transactional batch of a producer without an open transaction on the
// partition is appended only under a current verification guard; a
// marker between the coordinator's answer and the append makes the guard
// stale (the late write that would leave a hanging transaction is
// refused), and a guard is not needed once the transaction is open.
//
// Reference: KIP-890 part 1; Kafka's UnifiedLog.append ("Record was not
// part of an ongoing transaction"), VerificationGuard.
func TestTxnVerificationGuards(t *testing.T) {
	c := newCluster(t)
	c.start(1)
	c.apply(reg(1, 1, 0, []int32{1}, []int32{1}))
	p := c.partition(1)
	const pid = 5

	// Without a guard (never verified), refused.
	if _, err := p.AppendVerified(txnBatch(t, pid, 0, 0, "a"), -1, nil); code(err) != kerr.InvalidTxnState {
		t.Fatalf("unverified append: %v, want INVALID_TXN_STATE", err)
	}
	g, err := p.StartTxnVerification(pid, 0, 0, false)
	if err != nil || g == nil {
		t.Fatalf("start: %v %v", g, err)
	}
	// Another verification of the producer shares the guard.
	if g2, _ := p.StartTxnVerification(pid, 0, 1, false); g2 == nil || g2.token != g.token {
		t.Fatal("concurrent verifications of one producer do not share the guard")
	}
	// The first batch must be the one with the lowest sequence asked for.
	if _, err := p.AppendVerified(txnBatch(t, pid, 0, 1, "b"), -1, g); code(err) != kerr.OutOfOrderSequenceNumber {
		t.Fatalf("higher sequence first: %v", err)
	}
	if _, err := p.AppendVerified(txnBatch(t, pid, 0, 0, "a"), -1, g); err != nil {
		t.Fatal(err)
	}
	// The transaction is open: no verification needed, any guard will do.
	if g3, err := p.StartTxnVerification(pid, 0, 1, false); g3 != nil || err != nil {
		t.Fatalf("open transaction still verified: %v %v", g3, err)
	}
	if _, err := p.AppendVerified(txnBatch(t, pid, 0, 1, "b"), -1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendCoordinator(marker(t, pid, 0, 1, false)); err != nil {
		t.Fatal(err)
	}

	// The next transaction: verified, then aborted (the marker comes
	// before the append); the stale guard's batch is refused.
	g, _ = p.StartTxnVerification(pid, 0, 2, false)
	if _, err := p.AppendCoordinator(marker(t, pid, 0, 1, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendVerified(txnBatch(t, pid, 0, 2, "late"), -1, g); code(err) != kerr.InvalidTxnState {
		t.Fatalf("append under a stale guard: %v, want INVALID_TXN_STATE", err)
	}
	// So is a coordinator's transactional write after the stale
	// verification; a new, answered verification lets it through.
	if _, err := p.AppendCoordinator(txnBatch(t, pid, 0, 0, "offsets")); code(err) != kerr.InvalidTxnState {
		t.Fatalf("coordinator append after a stale verification: %v", err)
	}
	g, _ = p.StartTxnVerification(pid, 0, -1, false)
	if _, err := p.AppendCoordinator(txnBatch(t, pid, 0, 0, "offsets")); code(err) != kerr.InvalidTxnState {
		t.Fatalf("coordinator append while verifying: %v", err)
	}
	p.MarkTxnVerified(g)
	if _, err := p.AppendCoordinator(txnBatch(t, pid, 0, 0, "offsets")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendCoordinator(marker(t, pid, 0, 1, true)); err != nil {
		t.Fatal(err)
	}

	// Transaction version 2: the coordinator bumps the epoch for the
	// markers, so the previous transaction's marker at the epoch being
	// verified leaves the guard; a batch with no state at the new epoch
	// must start at sequence 0.
	g, _ = p.StartTxnVerification(pid, 1, 0, true)
	if _, err := p.AppendTxnMarker(marker(t, pid, 1, 1, true), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendVerified(txnBatch(t, pid, 1, 0, "c"), -1, g); err != nil {
		t.Fatalf("append after the previous transaction's TV2 marker: %v", err)
	}
	if _, err := p.AppendTxnMarker(marker(t, pid, 2, 1, true), 2); err != nil {
		t.Fatal(err)
	}
	g, _ = p.StartTxnVerification(pid, 2, 3, true)
	if _, err := p.AppendVerified(txnBatch(t, pid, 2, 3, "d"), -1, g); code(err) != kerr.OutOfOrderSequenceNumber {
		t.Fatalf("TV2 first batch at sequence 3: %v", err)
	}
	// A zombie of the fenced epoch is refused by the producer state.
	g, _ = p.StartTxnVerification(pid, 1, 1, true)
	if _, err := p.AppendVerified(txnBatch(t, pid, 1, 1, "zombie"), -1, g); code(err) != kerr.InvalidProducerEpoch {
		t.Fatalf("zombie batch: %v, want INVALID_PRODUCER_EPOCH", err)
	}

	// A follower verifies nothing.
	c.apply(reg(2, 2, 1, []int32{1, 2}, []int32{1, 2}), 1)
	if _, err := p.StartTxnVerification(pid, 2, 0, true); code(err) != kerr.NotLeaderForPartition {
		t.Fatalf("follower: %v", err)
	}
}
