package coordinator

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// txnCounter is counter with transactions: records of a producer are
// pending until its marker commits (added) or aborts (dropped) them.
type txnCounter struct {
	sums    map[string]int
	pending map[int64]map[string]int
	events  []string // "rec key@offset pid", "marker commit@offset pid"
}

func (c *txnCounter) Replay(r LoggedRecord) error {
	n, err := strconv.Atoi(string(r.Value))
	if err != nil {
		return err
	}
	c.events = append(c.events, "rec "+string(r.Key)+"@"+strconv.FormatInt(r.Offset, 10)+" "+strconv.FormatInt(r.ProducerID, 10))
	if r.ProducerID < 0 {
		c.sums[string(r.Key)] += n
		return nil
	}
	if c.pending[r.ProducerID] == nil {
		c.pending[r.ProducerID] = map[string]int{}
	}
	c.pending[r.ProducerID][string(r.Key)] += n
	return nil
}

func (c *txnCounter) ReplayMarker(offset int64, m Marker) error {
	kind := "abort"
	if m.Commit {
		kind = "commit"
		for k, n := range c.pending[m.ProducerID] {
			c.sums[k] += n
		}
	}
	delete(c.pending, m.ProducerID)
	c.events = append(c.events, "marker "+kind+"@"+strconv.FormatInt(offset, 10)+" "+strconv.FormatInt(m.ProducerID, 10))
	return nil
}

func (c *txnCounter) Loaded(time.Time, *Result) {}
func (c *txnCounter) Unloaded(*Result)          {}

func TestMarkerRoundTrip(t *testing.T) {
	for _, m := range []Marker{
		{ProducerID: 7, ProducerEpoch: 3, CoordinatorEpoch: 12, Commit: true},
		{ProducerID: 1 << 40, ProducerEpoch: 0, CoordinatorEpoch: 0, Commit: false},
	} {
		b, err := BuildMarker(m, 1234)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.ParseHeader(b)
		if err != nil || !h.IsControl() || !h.IsTransactional() || h.BaseSequence != record.NoSequence || h.RecordCount != 1 {
			t.Fatalf("marker header %+v, %v", h, err)
		}
		if err := record.CheckCRC(b); err != nil {
			t.Fatal(err)
		}
		got, ok, err := ParseMarker(b)
		if err != nil || !ok || got != m {
			t.Fatalf("ParseMarker = %+v %v %v, want %+v", got, ok, err, m)
		}
	}
	// A data batch is not a marker.
	data, _ := buildBatch(Batch{Records: []Record{{Key: []byte("k"), Value: []byte("1")}}}, 0, record.CodecNone)
	if _, _, err := ParseMarker(data); err == nil {
		t.Fatal("ParseMarker accepted a data batch")
	}
}

// TestTransactionalWritesAndMarkers writes records of two producers, a
// commit marker for one and an abort for the other through the runtime,
// then reloads the log: the live state and the reloaded one agree, and
// markers are replayed in log order.
func TestTransactionalWritesAndMarkers(t *testing.T) {
	var mu sync.Mutex
	var shards []*txnCounter
	rt := NewRuntime(Config[*txnCounter]{
		NewShard: func(int32, *Timers[*txnCounter]) *txnCounter {
			c := &txnCounter{sums: map[string]int{}, pending: map[int64]map[string]int{}}
			mu.Lock()
			shards = append(shards, c)
			mu.Unlock()
			return c
		},
	})
	defer rt.Close()
	log := &memLog{}
	rt.Sync(map[int32]Log{0: log})
	run := func(op Op[*txnCounter]) error {
		for {
			done := make(chan error, 1)
			rt.Do(0, func(c *txnCounter, now time.Time, res *Result) {
				op(c, now, res)
				res.Reply(func() { done <- nil })
			}, func(err error) { done <- err })
			err := <-done
			if !errors.Is(err, ErrLoadInProgress) {
				return err
			}
			time.Sleep(time.Millisecond)
		}
	}
	write := func(pid int64, key, val string) {
		t.Helper()
		err := run(func(_ *txnCounter, _ time.Time, res *Result) {
			res.Add(Record{Key: []byte(key), Value: []byte(val)})
			res.Replay = true
			if pid >= 0 {
				res.Producer = &Producer{ID: pid, Epoch: 1}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	marker := func(pid int64, commit bool) {
		t.Helper()
		var afterErr error
		err := run(func(_ *txnCounter, _ time.Time, res *Result) {
			res.Marker = &Marker{ProducerID: pid, ProducerEpoch: 1, CoordinatorEpoch: 4, Commit: commit}
			res.Replay = true
			res.AfterAppend = func(_ time.Time, err error, _ *Result) { afterErr = err }
		})
		if err != nil || afterErr != nil {
			t.Fatal(err, afterErr)
		}
	}
	write(-1, "a", "1")
	write(10, "a", "5")
	write(20, "a", "100")
	marker(10, true)
	marker(20, false)
	write(20, "b", "7") // the next transaction of 20, still open

	state := func(c *txnCounter) string {
		return strconv.Itoa(c.sums["a"]) + "/" + strconv.Itoa(c.sums["b"]) + "/" + strconv.Itoa(len(c.pending))
	}
	var live string
	var liveEvents []string
	run(func(c *txnCounter, _ time.Time, _ *Result) {
		live, liveEvents = state(c), append([]string(nil), c.events...)
	})
	if live != "6/0/1" {
		t.Fatalf("live state %s, want 6/0/1", live)
	}

	// The batches in the log: transactional ones carry the producer.
	var kinds []string
	for _, b := range log.batches {
		h, _ := record.ParseHeader(b)
		switch {
		case h.IsControl():
			kinds = append(kinds, "control")
		case h.IsTransactional():
			kinds = append(kinds, "txn:"+strconv.FormatInt(h.ProducerID, 10))
		default:
			kinds = append(kinds, "plain")
		}
	}
	if got := strings.Join(kinds, " "); got != "plain txn:10 txn:20 control control txn:20" {
		t.Fatalf("batches %q", got)
	}

	// Reload from the log: the same state and the same order of events.
	rt.Sync(map[int32]Log{})
	rt.Sync(map[int32]Log{0: &memLog{batches: log.batches, next: log.next}})
	var reloaded string
	var events []string
	run(func(c *txnCounter, _ time.Time, _ *Result) { reloaded, events = state(c), c.events })
	if reloaded != live || strings.Join(events, " ") != strings.Join(liveEvents, " ") {
		t.Fatalf("reloaded %s %v, live %s %v", reloaded, events, live, liveEvents)
	}
}
