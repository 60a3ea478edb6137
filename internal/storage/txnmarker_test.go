package storage

import (
	"errors"
	"testing"
)

// Markers are checked by the transaction version they were written with:
// TV0/TV1 (and unknown) accept the producer's epoch, TV2 needs a bumped
// one, except a retry of a marker already written; a TV2 marker moves
// the producer to the next transaction's epoch, which fences the old
// epoch's late batches.
//
// Reference: KIP-890 part 2; Kafka's ProducerAppendInfo.checkProducerEpoch
// (KAFKA-19999 for the retry).
func TestTxnMarkerEpochByTransactionVersion(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), testConfig(), Options{Now: clock.Now})
	defer l.Close()
	const pid = 42
	marker := func(epoch int16, tv int16) error {
		_, err := l.AppendTxnMarker(markerBatch(t, pid, epoch, 0, true, 0, clock.Ms()), 0, -1, tv)
		return err
	}
	open := func(epoch int16, seq int32) {
		t.Helper()
		mustAppendP(t, l, pbatch{pid: pid, epoch: epoch, seq: seq, n: 2, txn: true})
		if ps, ok := l.ProducerState(pid); !ok || ps.CurrentTxnFirstOffset < 0 || ps.ProducerEpoch != epoch {
			t.Fatalf("after data at epoch %d: %+v %v", epoch, ps, ok)
		}
	}

	// Transaction version 0: the same epoch closes the transaction.
	open(3, 0)
	if err := marker(2, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("TV0 marker at an older epoch: %v", err)
	}
	if err := marker(3, 0); err != nil {
		t.Fatalf("TV0 marker at the same epoch: %v", err)
	}

	// Transaction version 2: the same epoch with the transaction open is
	// not the coordinator's (it bumps before writing markers).
	open(3, 2)
	leo := l.LogEndOffset()
	if err := marker(3, 2); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("TV2 marker at the transaction's epoch: %v", err)
	}
	if l.LogEndOffset() != leo {
		t.Fatal("a refused marker was written")
	}
	if err := marker(4, 2); err != nil {
		t.Fatalf("TV2 marker at the bumped epoch: %v", err)
	}
	ps, _ := l.ProducerState(pid)
	if ps.ProducerEpoch != 4 || ps.CurrentTxnFirstOffset != -1 || len(ps.Batches) != 0 {
		t.Fatalf("after the TV2 marker: %+v", ps)
	}
	// A retry of the marker (the sender lost the answer) is written again.
	if err := marker(4, 2); err != nil {
		t.Fatalf("TV2 marker retry: %v", err)
	}
	// The old epoch's zombie is fenced; the next transaction starts at the
	// marker's epoch with sequence 0.
	if _, err := appendP(t, l, pbatch{pid: pid, epoch: 3, seq: 4, txn: true}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("late batch at the old epoch: %v", err)
	}
	open(4, 0)
	if err := marker(4, 2); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("TV2 marker at the open transaction's epoch: %v", err)
	}
	// An unknown version is checked by the TV0/TV1 rule.
	if err := marker(4, -1); err != nil {
		t.Fatalf("marker of unknown version at the same epoch: %v", err)
	}
	if _, ok := l.ProducerState(7); ok {
		t.Fatal("state for a producer that never wrote")
	}
}
