package replica

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/record"
)

func marker(t testing.TB, pid int64, epoch int16, coordinatorEpoch int32, commit bool) []byte {
	t.Helper()
	b, err := coordinator.BuildMarker(coordinator.Marker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: coordinatorEpoch, Commit: commit}, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// txnBatch is a transactional batch of pid at epoch from sequence seq.
func txnBatch(t testing.TB, pid int64, epoch int16, seq int32, v string) []byte {
	t.Helper()
	b, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: -1, BaseTimestamp: time.Now().UnixMilli(), Transactional: true,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
	}, []record.Record{{Key: []byte("k"), Value: []byte(v)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// headers lists the batches of node id's log as "offset:seq:kind".
func headers(t testing.TB, c *cluster, id int32) []string {
	t.Helper()
	var out []string
	err := record.Batches(c.logBytes(id), func(h record.Header, b []byte) error {
		if err := record.CheckCRC(b); err != nil {
			return err
		}
		kind := "data"
		switch {
		case h.IsControl():
			kind = "marker"
		case h.IsTransactional():
			kind = "txn"
		}
		out = append(out, fmt.Sprintf("%d:%d:%s", h.BaseOffset, h.BaseSequence, kind))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendCoordinator(t *testing.T) {
	c := newCluster(t)
	c.start(1)
	c.apply(reg(1, 1, 0, []int32{1}, []int32{1}))
	p := c.partition(1)

	// Clients may not write markers.
	if _, err := p.Append(marker(t, 9, 0, 1, true), -1); code(err) != kerr.InvalidRecord {
		t.Fatalf("client marker: %v, want INVALID_RECORD", err)
	}
	// The producer writes a transaction (sequences 0 and 1), the
	// coordinator two transactional batches of it at sequence 0: they
	// get 2 and 3, are not taken for duplicates, and keep a valid CRC.
	for i, b := range [][]byte{txnBatch(t, 9, 0, 0, "a"), txnBatch(t, 9, 0, 1, "b")} {
		if _, err := p.Append(b, -1); err != nil {
			t.Fatalf("producer batch %d: %v", i, err)
		}
	}
	for i := range 2 {
		res, err := p.AppendCoordinator(txnBatch(t, 9, 0, 0, "c"))
		if err != nil || res.Duplicate {
			t.Fatalf("coordinator batch %d: %+v %v", i, res, err)
		}
	}
	// A producer the partition does not know starts at 0.
	if _, err := p.AppendCoordinator(txnBatch(t, 11, 3, 0, "d")); err != nil {
		t.Fatal(err)
	}
	// Markers: commit pid 9 at coordinator epoch 5; a marker from an
	// older coordinator epoch is fenced, one of an older producer epoch
	// is refused.
	if _, err := p.AppendCoordinator(marker(t, 9, 0, 5, true)); err != nil {
		t.Fatalf("marker: %v", err)
	}
	if _, err := p.AppendCoordinator(marker(t, 9, 0, 4, false)); code(err) != kerr.TransactionCoordinatorFenced {
		t.Fatalf("stale coordinator marker: %v, want TRANSACTION_COORDINATOR_FENCED", err)
	}
	if _, err := p.AppendCoordinator(txnBatch(t, 11, 4, 0, "e")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendCoordinator(marker(t, 11, 3, 5, false)); code(err) != kerr.InvalidProducerEpoch {
		t.Fatalf("old producer epoch marker: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	// A new epoch of pid 9 starts at sequence 0 again.
	if _, err := p.AppendCoordinator(txnBatch(t, 9, 1, 0, "f")); err != nil {
		t.Fatal(err)
	}
	want := []string{"0:0:txn", "1:1:txn", "2:2:txn", "3:3:txn", "4:0:txn", "5:-1:marker", "6:0:txn", "7:0:txn"}
	if got := headers(t, c, 1); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("log %v\nwant %v", got, want)
	}
	var open int
	for _, ps := range p.Log().ActiveProducers() {
		if ps.CurrentTxnFirstOffset >= 0 {
			open++
		}
		if ps.ProducerID == 9 && ps.CoordinatorEpoch != 5 {
			t.Fatalf("producer 9 coordinator epoch %d, want 5", ps.CoordinatorEpoch)
		}
	}
	if open != 2 {
		t.Fatalf("%d open transactions, want 2 (pid 11 at epoch 4, pid 9 at epoch 1)", open)
	}
}
