package node

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/txn"
)

// fakeBrokers answers the marker sender's requests: per partition a
// list of codes to answer in turn (then NONE), leaders by partition,
// partitions that do not exist, and which coordinator epochs are owned.
type fakeBrokers struct {
	mu       sync.Mutex
	leaders  map[txn.TopicPartition]int32
	missing  map[txn.TopicPartition]bool
	codes    map[txn.TopicPartition][]int16
	owned    map[int32]int32 // txn partition → coordinator epoch
	requests map[int32]int   // per broker
	written  []string        // "topic-partition@broker commit"
	done     chan txn.MarkersDone
	// block, if set, makes every request wait for its context.
	block bool
}

func newFakeBrokers() *fakeBrokers {
	return &fakeBrokers{
		leaders: map[txn.TopicPartition]int32{}, missing: map[txn.TopicPartition]bool{},
		codes: map[txn.TopicPartition][]int16{}, owned: map[int32]int32{0: 5},
		requests: map[int32]int{}, done: make(chan txn.MarkersDone, 100),
	}
}

func (f *fakeBrokers) sender(t *testing.T) *markerSender {
	m := newMarkerSender(1, slog.New(slog.DiscardHandler), time.Now)
	m.leader = func(tp txn.TopicPartition) (int32, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.missing[tp] {
			return -1, false
		}
		l, ok := f.leaders[tp]
		if !ok {
			return -1, true
		}
		return l, true
	}
	m.owned = func(p, epoch int32) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		e, ok := f.owned[p]
		return ok && e == epoch
	}
	m.send = f.send
	m.complete = func(p int32, d txn.MarkersDone) { f.done <- d }
	m.start()
	t.Cleanup(m.close)
	return m
}

func (f *fakeBrokers) send(ctx context.Context, id int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	f.mu.Lock()
	f.requests[id]++
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, mk := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = mk.ProducerID
		for _, t := range mk.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				tp := txn.TopicPartition{Topic: t.Topic, Partition: p}
				code := int16(0)
				if cs := f.codes[tp]; len(cs) > 0 {
					code, f.codes[tp] = cs[0], cs[1:]
				}
				if code == 0 {
					f.written = append(f.written, fmt.Sprintf("%s@%d %v", tp, id, mk.Committed))
				}
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = p, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp, nil
}

func markerRequest(id string, epoch int32, parts ...txn.TopicPartition) txn.MarkerRequest {
	return txn.MarkerRequest{TxnPartition: 0, CoordinatorEpoch: epoch, TransactionalID: id, ProducerID: 7, ProducerEpoch: 2, Commit: true, Partitions: parts}
}

// awaitDone collects completions until want partitions are reported.
func awaitDone(t *testing.T, f *fakeBrokers, want int) []string {
	t.Helper()
	var got []string
	timeout := time.After(30 * time.Second)
	for len(got) < want {
		select {
		case d := <-f.done:
			if d.ProducerID != 7 || d.ProducerEpoch != 2 || d.CoordinatorEpoch != 5 {
				t.Fatalf("completion %+v", d)
			}
			for _, tp := range d.Partitions {
				got = append(got, tp.String())
			}
		case <-timeout:
			t.Fatalf("completed %v, want %d partitions", got, want)
		}
	}
	slices.Sort(got)
	return got
}

// Markers go to each partition's leader, one request per broker, and
// are reported written; retriable errors and partitions without a leader
// are retried; a deleted partition counts as written.
func TestMarkerSenderDeliversAndRetries(t *testing.T) {
	f := newFakeBrokers()
	a0, a1, b0, gone, leaderless := txn.TopicPartition{Topic: "a", Partition: 0}, txn.TopicPartition{Topic: "a", Partition: 1},
		txn.TopicPartition{Topic: "b", Partition: 0}, txn.TopicPartition{Topic: "gone", Partition: 0}, txn.TopicPartition{Topic: "c", Partition: 0}
	f.leaders[a0], f.leaders[a1], f.leaders[b0] = 1, 2, 2
	f.missing[gone] = true
	f.codes[a1] = []int16{kerr.NotLeaderForPartition.Code, kerr.NotEnoughReplicas.Code}
	m := f.sender(t)
	m.submit(markerRequest("x", 5, a0, a1, b0, gone, leaderless))

	got := awaitDone(t, f, 4)
	if want := []string{"a-0", "a-1", "b-0", "gone-0"}; !slices.Equal(got, want) {
		t.Fatalf("completed %v, want %v", got, want)
	}
	// The partition without a leader waits; once it has one, it is sent.
	f.mu.Lock()
	f.leaders[leaderless] = 3
	f.mu.Unlock()
	m.wake()
	if got := awaitDone(t, f, 1); !slices.Equal(got, []string{"c-0"}) {
		t.Fatalf("completed %v", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	slices.Sort(f.written)
	if want := []string{"a-0@1 true", "a-1@2 true", "b-0@2 true", "c-0@3 true"}; !slices.Equal(f.written, want) {
		t.Fatalf("written %v, want %v", f.written, want)
	}
	if f.requests[2] < 3 {
		t.Fatalf("%d requests to broker 2, want the first and two retries", f.requests[2])
	}
}

// A stale marker (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED)
// drops the transaction's markers, as Kafka's
// TransactionMarkerRequestCompletionHandler does (no completion: the
// partition's next coordinator asks again); markers of a transaction
// this node no longer coordinates are not sent; a newer request for a
// transaction replaces the older one.
func TestMarkerSenderDropsStaleWork(t *testing.T) {
	f := newFakeBrokers()
	a0, a1, nowhere := txn.TopicPartition{Topic: "a", Partition: 0}, txn.TopicPartition{Topic: "a", Partition: 1}, txn.TopicPartition{Topic: "n", Partition: 0}
	f.leaders[a0], f.leaders[a1] = 1, 1
	f.codes[a1] = []int16{kerr.InvalidProducerEpoch.Code}
	m := f.sender(t)
	pending := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.mu.pending)
	}
	m.submit(markerRequest("stale", 5, a0, a1))
	waitUntil(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.requests[1] == 1 && pending() == 0
	})
	// Not coordinated here at epoch 4: dropped without a request.
	m.submit(markerRequest("old-epoch", 4, a0))
	// Replaced before its partition (without a leader) is sent.
	m.submit(markerRequest("fresh", 5, nowhere))
	m.submit(markerRequest("fresh", 5, a0))
	if got := awaitDone(t, f, 1); !slices.Equal(got, []string{"a-0"}) {
		t.Fatalf("completed %v", got)
	}
	waitUntil(t, func() bool { return pending() == 0 })
	select {
	case d := <-f.done:
		t.Fatalf("unexpected completion %+v", d)
	default:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []string{"a-0@1 true", "a-0@1 true"}; !slices.Equal(f.written, want) || f.requests[1] != 2 {
		t.Fatalf("written %v in %d requests, want %v in 2 (the old epoch's a-0 not sent)", f.written, f.requests[1], want)
	}
}

// close cancels requests in flight and waits for them.
func TestMarkerSenderCloseWaits(t *testing.T) {
	f := newFakeBrokers()
	a0 := txn.TopicPartition{Topic: "a", Partition: 0}
	f.leaders[a0] = 2
	f.block = true
	m := f.sender(t)
	m.submit(markerRequest("x", 5, a0))
	waitUntil(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.requests[2] > 0
	})
	m.close()
	m.submit(markerRequest("y", 5, a0)) // ignored after close
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.requests[2] != 1 {
		t.Fatalf("%d requests", f.requests[2])
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
