package txn

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/record"
)

var _ coordinator.Log = (*memLog)(nil)

// memLog is a coordinator.Log in memory: each Append is one stored batch.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
}

func (l *memLog) Append(batch []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := record.ParseHeader(batch)
	if err != nil {
		return -1, err
	}
	if h.Codec() != record.CodecNone {
		return -1, errors.New("memLog: __transaction_state batches must not be compressed")
	}
	b := append([]byte(nil), batch...)
	base := l.next
	for i := range 8 { // assign offsets as the log does
		b[i] = byte(uint64(base) >> (56 - 8*i))
	}
	l.batches = append(l.batches, b)
	l.next += int64(h.LastOffsetDelta) + 1
	return base, nil
}

func (l *memLog) Read(offset int64, maxBytes int) ([]byte, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		h, _ := record.ParseHeader(b)
		if h.NextOffset() > offset {
			out = append(out, b...)
		}
	}
	return out, l.next, nil
}

func (l *memLog) LogStartOffset() int64 { return 0 }

// copyLog is the same log seen by a new leadership.
func (l *memLog) copyLog() *memLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &memLog{batches: append([][]byte(nil), l.batches...), next: l.next}
}

type lockedIDs struct {
	mu   sync.Mutex
	next int64
}

func (s *lockedIDs) GenerateProducerID() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return s.next - 1, nil
}

func TestNewNeedsDependencies(t *testing.T) {
	if _, err := New(Config{WriteMarkers: func(MarkerRequest) {}}, Options{}); !errors.Is(err, ErrNoProducerIDs) {
		t.Errorf("without producer ids: %v", err)
	}
	if _, err := New(Config{ProducerIDs: &lockedIDs{}}, Options{}); !errors.Is(err, ErrNoMarkerWriter) {
		t.Errorf("without a marker writer: %v", err)
	}
}

// idOn returns a transactional id of partition p of n.
func idOn(t *testing.T, p, n int32) string {
	for i := 0; i < 1000; i++ {
		id := "txn-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if PartitionFor(id, n) == p {
			return id
		}
	}
	t.Fatalf("no id on partition %d", p)
	return ""
}

// TestCoordinatorRuntime runs a transaction through the coordinator
// runtime: routing, the write path, markers, reload with markers asked
// for again at the new coordinator epoch, and partitions not led here.
func TestCoordinatorRuntime(t *testing.T) {
	markers := make(chan MarkerRequest, 16)
	c, err := New(Config{
		NumPartitions: 2,
		ProducerIDs:   &lockedIDs{next: 4000},
		WriteMarkers:  func(r MarkerRequest) { markers <- r },
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	log0 := &memLog{}
	c.Sync(2, map[int32]Leader{0: {Log: log0, Epoch: 7}})
	id, other := idOn(t, 0, 2), idOn(t, 1, 2)

	// Idempotent producers need no shard.
	if r := c.InitProducerID(ctx, InitProducerIDRequest{Version: 5, ProducerID: -1, ProducerEpoch: -1}); r.ErrorCode != 0 || r.ProducerID != 4000 || r.ProducerEpoch != 0 {
		t.Fatalf("null transactional id: %+v", r)
	}
	if r := c.InitProducerID(ctx, InitProducerIDRequest{Version: 5, TransactionalID: &other, TransactionTimeoutMs: 1000, ProducerID: -1, ProducerEpoch: -1}); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("id of a partition not led here: %+v", r)
	}

	var init InitProducerIDResponse
	for i := 0; ; i++ { // the shard may still be loading
		init = c.InitProducerID(ctx, InitProducerIDRequest{Version: 5, TransactionalID: &id, TransactionTimeoutMs: 60000, ProducerID: -1, ProducerEpoch: -1})
		if init.ErrorCode != kerr.CoordinatorLoadInProgress.Code || i > 10000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if init.ErrorCode != 0 || init.ProducerID != 4001 || init.ProducerEpoch != 0 {
		t.Fatalf("init: %+v", init)
	}
	add := c.AddPartitionsToTxn(ctx, AddPartitionsRequest{Version: 3, TransactionalID: id, ProducerID: 4001, ProducerEpoch: 0,
		Partitions: []TopicPartition{{"t", 0}, {"t", 1}}})
	if len(add.Partitions) != 2 || add.Partitions[0].ErrorCode != 0 || add.Partitions[1].ErrorCode != 0 {
		t.Fatalf("add: %+v", add)
	}
	if code := c.AddOffsetsToTxn(ctx, AddOffsetsRequest{Version: 3, TransactionalID: id, ProducerID: 4001, ProducerEpoch: 0, Group: "g"}); code != 0 {
		t.Fatalf("add offsets: %d", code)
	}
	if r := c.EndTxn(ctx, EndTxnRequest{Version: 5, TransactionalID: id, ProducerID: 4001, ProducerEpoch: 0, Commit: true}); r.ErrorCode != 0 || r.ProducerEpoch != 1 {
		t.Fatalf("end: %+v", r)
	}
	m := <-markers
	if m.TxnPartition != 0 || m.CoordinatorEpoch != 7 || m.ProducerID != 4001 || m.ProducerEpoch != 1 || !m.Commit || len(m.Partitions) != 3 {
		t.Fatalf("markers: %+v", m)
	}
	if d := c.DescribeTransactions(ctx, []string{id}); d[0].State != "PrepareCommit" {
		t.Fatalf("describe while markers are written: %+v", d)
	}

	// A new leadership (epoch 8) of the same log finishes the commit.
	c.Sync(2, map[int32]Leader{})
	c.Sync(2, map[int32]Leader{0: {Log: log0.copyLog(), Epoch: 8}})
	m = <-markers
	if m.CoordinatorEpoch != 8 || m.ProducerEpoch != 1 || len(m.Partitions) != 3 {
		t.Fatalf("markers after reload: %+v", m)
	}
	// The first leadership's report is stale; the second completes.
	c.CompleteMarkers(0, MarkersDone{TransactionalID: id, ProducerID: 4001, ProducerEpoch: 1, CoordinatorEpoch: 7, Partitions: m.Partitions})
	c.CompleteMarkers(0, MarkersDone{TransactionalID: id, ProducerID: 4001, ProducerEpoch: 1, CoordinatorEpoch: 8, Partitions: m.Partitions})
	d := c.DescribeTransactions(ctx, []string{id, "", other})
	if d[0].ErrorCode != 0 || d[0].State != "CompleteCommit" || d[0].ProducerEpoch != 1 ||
		d[1].ErrorCode != kerr.InvalidRequest.Code || d[2].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("describe: %+v", d)
	}
	l := c.ListTransactions(ctx, ListRequest{States: []string{"CompleteCommit", "Nope"}, DurationFilterMs: -1})
	if l.ErrorCode != 0 || len(l.Transactions) != 1 || l.Transactions[0].TransactionalID != id || len(l.UnknownStateFilters) != 1 {
		t.Fatalf("list: %+v", l)
	}
	if l := c.ListTransactions(ctx, ListRequest{TransactionalIDPattern: "(", DurationFilterMs: -1}); l.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Fatalf("list with a bad pattern: %+v", l)
	}
	c.Close()
	if r := c.EndTxn(ctx, EndTxnRequest{Version: 5, TransactionalID: id, ProducerID: 4001, ProducerEpoch: 1, Commit: true}); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("after close: %+v", r)
	}
}
