package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/controller"
)

// fakeAllocator hands out blocks of 10 ids in order, failing while fail
// is set; calls counts the allocations asked for.
type fakeAllocator struct {
	mu    sync.Mutex
	next  int64
	calls int
	fail  error
	gate  chan struct{} // if set, each allocation waits for a receive
}

func (f *fakeAllocator) allocate(ctx context.Context) (controller.ProducerIDsBlock, error) {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return controller.ProducerIDsBlock{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return controller.ProducerIDsBlock{}, f.fail
	}
	b := controller.ProducerIDsBlock{BrokerID: 1, FirstProducerID: f.next, Size: 10}
	f.next += 10
	return b, nil
}

func (f *fakeAllocator) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func newTestManager(f *fakeAllocator) *producerIDManager {
	return newProducerIDManager(f.allocate, slog.New(slog.DiscardHandler))
}

func TestProducerIDManagerBlocks(t *testing.T) {
	f := &fakeAllocator{gate: make(chan struct{})}
	m := newTestManager(f)
	defer m.close()
	ctx := context.Background()

	got := make(chan int64)
	go func() {
		id, err := m.NextProducerID(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- id
	}()
	f.gate <- struct{}{} // the first block, fetched on demand
	if id := <-got; id != 0 {
		t.Fatalf("first id %d", id)
	}
	for want := int64(1); want < 9; want++ {
		if id, err := m.NextProducerID(ctx); err != nil || id != want {
			t.Fatalf("id %d, %v, want %d", id, err, want)
		}
	}
	// Handing out id 9 (90% of the block) fetches the next block in the
	// background: the allocation waits on the gate meanwhile.
	if id, _ := m.NextProducerID(ctx); id != 9 {
		t.Fatalf("id %d, want 9", id)
	}
	f.gate <- struct{}{}
	// The block is used up: the next id comes from the prefetched block
	// (waiting for the fetch to land if it has not yet).
	if id, err := m.NextProducerID(ctx); err != nil || id != 10 {
		t.Fatalf("id %d, %v, want 10 from the prefetched block", id, err)
	}
	if n := f.callCount(); n != 2 {
		t.Fatalf("%d allocations, want 2", n)
	}
}

func TestProducerIDManagerRetriesAndTimesOut(t *testing.T) {
	f := &fakeAllocator{fail: apierror.New(kerr.StaleBrokerEpoch, "")}
	m := newTestManager(f)
	defer m.close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// No block and a caller that cannot wait: a retriable error, as
	// Kafka's COORDINATOR_LOAD_IN_PROGRESS.
	_, err := m.NextProducerID(ctx)
	if apierror.Code(err) != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("error %v, want COORDINATOR_LOAD_IN_PROGRESS", err)
	}
	// Failures are retried (after a backoff) while callers wait.
	for f.callCount() < 2 {
		_, _ = m.NextProducerID(ctx)
		time.Sleep(time.Millisecond)
	}
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()
	id, err := m.NextProducerID(context.Background())
	if err != nil || id != 0 {
		t.Fatalf("after recovery: %d, %v", id, err)
	}
}

func TestProducerIDManagerGenerateDoesNotWait(t *testing.T) {
	f := &fakeAllocator{gate: make(chan struct{})}
	m := newTestManager(f)
	defer m.close()
	if _, err := m.GenerateProducerID(); apierror.Code(err) != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("before any block: %v", err)
	}
	f.gate <- struct{}{} // the fetch it started completes
	for {
		id, err := m.GenerateProducerID()
		if err == nil {
			if id != 0 {
				t.Fatalf("first id %d", id)
			}
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestProducerIDManagerConcurrentUnique(t *testing.T) {
	f := &fakeAllocator{}
	m := newTestManager(f)
	defer m.close()
	const callers, each = 8, 50
	ids := make(chan int64, callers*each)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				id, err := m.NextProducerID(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d handed out twice", id)
		}
		seen[id] = true
	}
	if len(seen) != callers*each {
		t.Fatalf("%d ids", len(seen))
	}
}

func TestProducerIDManagerClose(t *testing.T) {
	f := &fakeAllocator{gate: make(chan struct{})} // never answers
	m := newTestManager(f)
	errc := make(chan error)
	go func() {
		_, err := m.NextProducerID(context.Background())
		errc <- err
	}()
	for {
		m.mu.Lock()
		inflight := m.mu.inflight
		m.mu.Unlock()
		if inflight {
			break
		}
		time.Sleep(time.Millisecond)
	}
	m.close() // cancels the allocation and waits for it
	if err := <-errc; err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("waiter after close: %v", err)
	}
	if _, err := m.NextProducerID(context.Background()); apierror.Code(err) != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("after close: %v", err)
	}
}
