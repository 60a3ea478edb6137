package replica

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// t0 is the time the tests' leaders are elected, in ms.
const t0 = int64(1_700_000_000_000)

const lag = int64(defaultReplicaLagTimeMaxMs)

// newTestLeader is leader 1 of replicas 1,2,3 with ISR isr at leader
// epoch 5, its log ending at leo, elected at t0.
func newTestLeader(isr []int32, leo int64, minISR int32) *leaderState {
	s := newLeaderState(1, reg(1, 5, 10, []int32{1, 2, 3}, isr), leo, t0)
	s.minISR = minISR
	s.selfEpoch = 7
	return s
}

// Reference: Kafka's Replica.updateFetchStateOrThrow and
// ReplicaState.isCaughtUp (lastCaughtUpTimeMs).
func TestLastCaughtUpTime(t *testing.T) {
	s := newTestLeader([]int32{1, 2, 3}, 100, 1)
	f := s.followers[2]
	if f.lastCaughtUpTimeMs != t0 || f.logEndOffset != -1 {
		t.Fatalf("ISR follower starts caught up now with unknown offset: %+v", *f)
	}
	// A fetch at the leader's log end offset: caught up now.
	must(t, s.updateFollower(2, 100, 0, 100, -1, t0+1000))
	if f.lastCaughtUpTimeMs != t0+1000 {
		t.Fatalf("lastCaughtUp = %d, want %d", f.lastCaughtUpTimeMs, t0+1000)
	}
	// Behind the leader (which has grown to 150) but at what it had at
	// the previous fetch: caught up as of that previous fetch.
	must(t, s.updateFollower(2, 100, 0, 150, -1, t0+5000))
	if f.lastCaughtUpTimeMs != t0+1000 {
		t.Fatalf("lastCaughtUp = %d, want %d (previous fetch time)", f.lastCaughtUpTimeMs, t0+1000)
	}
	must(t, s.updateFollower(2, 150, 0, 200, -1, t0+9000))
	if f.lastCaughtUpTimeMs != t0+5000 {
		t.Fatalf("lastCaughtUp = %d, want %d (reached the LEO of the fetch at t0+5000)", f.lastCaughtUpTimeMs, t0+5000)
	}
	// Falling behind what it had: no progress.
	must(t, s.updateFollower(2, 160, 0, 300, -1, t0+20000))
	if f.lastCaughtUpTimeMs != t0+5000 {
		t.Fatalf("lastCaughtUp = %d, want unchanged %d", f.lastCaughtUpTimeMs, t0+5000)
	}
	if !f.caughtUp(300, t0+5000+lag, lag) || f.caughtUp(300, t0+5000+lag+1, lag) {
		t.Fatal("caught up exactly replica.lag.time.max.ms after the last catch-up")
	}
	if !f.caughtUp(160, t0+1e9, lag) {
		t.Fatal("a follower at the leader's log end offset is caught up whatever the time")
	}
}

func TestHighWatermarkRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		isr    []int32
		minISR int32
		leos   map[int32]int64 // follower fetch offsets, at t0+1
		leo    int64
		now    int64
		want   int64
		ok     bool
	}{
		{"min of the ISR", []int32{1, 2, 3}, 1, map[int32]int64{2: 40, 3: 70}, 100, t0 + 1, 40, true},
		{"ISR member not yet fetched holds it back", []int32{1, 2, 3}, 1, map[int32]int64{2: 40}, 100, t0 + 1, -1, true},
		{"leader alone", []int32{1}, 1, nil, 100, t0 + 1, 100, true},
		// Follower 3 is out of the ISR but caught up (fetched at the LEO
		// recently) and eligible: the leader waits for it so that it can
		// join (KAFKA-13817's "shouldWaitForReplicaToJoinIsr").
		{"caught-up non-ISR follower waits", []int32{1, 2}, 1, map[int32]int64{2: 100, 3: 80}, 100, t0 + 1, 80, true},
		{"lagging non-ISR follower ignored", []int32{1, 2}, 1, map[int32]int64{2: 90, 3: 10}, 120, t0 + 2*lag, 90, true},
		{"under min ISR: frozen (KIP-966)", []int32{1}, 2, nil, 100, t0 + 1, 0, false},
		{"min ISR above replication factor is capped", []int32{1, 2, 3}, 5, map[int32]int64{2: 50, 3: 60}, 100, t0 + 1, 50, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestLeader(tc.isr, 0, tc.minISR)
			for id, off := range tc.leos {
				must(t, s.updateFollower(id, off, 0, off, -1, t0+1))
			}
			got, ok := s.highWatermark(tc.leo, tc.now)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("highWatermark = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestExpandISR(t *testing.T) {
	// Leader epoch 5 started at offset 100; HW 80.
	s := newTestLeader([]int32{1, 2}, 100, 1)
	must(t, s.updateFollower(3, 90, 0, 100, 103, t0+1))
	if req := s.maybeExpand(3, 80); req != nil {
		t.Fatalf("follower short of the epoch start offset joined: %+v", req)
	}
	must(t, s.updateFollower(3, 100, 0, 120, 103, t0+2))
	if req := s.maybeExpand(3, 110); req != nil {
		t.Fatalf("follower short of the high watermark joined: %+v", req)
	}
	req := s.maybeExpand(3, 100)
	if req == nil {
		t.Fatal("caught-up follower not added")
	}
	want := []ISRMember{{1, 7}, {2, -1}, {3, 103}}
	if !slices.Equal(req.NewISR, want) || req.LeaderEpoch != 5 || req.PartitionEpoch != 10 || req.LeaderID != 1 {
		t.Fatalf("request = %+v, want ISR %v at epochs 5/10", req, want)
	}
	// KIP-497: the committed ISR is unchanged, the maximal one has 3.
	if !slices.Equal(s.isr, []int32{1, 2}) || !slices.Equal(s.maximalISR(), []int32{1, 2, 3}) {
		t.Fatalf("isr %v maximal %v", s.isr, s.maximalISR())
	}
	// While the expansion is in flight, 3 holds the HW back even once it
	// no longer counts as caught up (the maximal ISR, not the
	// caught-up-and-eligible rule, is what holds it).
	must(t, s.updateFollower(2, 150, 0, 150, -1, t0+lag+10))
	if hw, _ := s.highWatermark(150, t0+lag+10); hw != 100 {
		t.Fatalf("HW %d with 3 (at 100) joining, want 100", hw)
	}
	if again := s.maybeExpand(3, 100); again != nil {
		t.Fatal("second proposal while one is in flight")
	}
	if out := s.maybeShrink(120, t0+10*lag); out != nil {
		t.Fatal("shrink proposed while an expansion is in flight")
	}
	committed, retry := s.applyAlterPartition(req, AlterPartitionResult{LeaderEpoch: 5, PartitionEpoch: 11, ISR: []int32{1, 2, 3}})
	if !committed || retry || !slices.Equal(s.isr, []int32{1, 2, 3}) || s.partitionEpoch != 11 || s.pending != nil {
		t.Fatalf("commit: %v %v isr %v pe %d", committed, retry, s.isr, s.partitionEpoch)
	}
}

func TestExpandNeedsEligibleBroker(t *testing.T) {
	for _, tc := range []struct {
		name       string
		info       BrokerInfo
		registered bool
		fetchEpoch int64
		want       bool
	}{
		{"eligible", BrokerInfo{Epoch: 103}, true, 103, true},
		{"fetch without epoch", BrokerInfo{Epoch: 103}, true, -1, true},
		{"stale epoch", BrokerInfo{Epoch: 104}, true, 103, false},
		{"fenced", BrokerInfo{Epoch: 103, Fenced: true}, true, 103, false},
		{"shutting down", BrokerInfo{Epoch: 103, InControlledShutdown: true}, true, 103, false},
		{"unregistered", BrokerInfo{}, false, 103, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestLeader([]int32{1, 2}, 0, 1)
			s.brokers = func(id int32) (BrokerInfo, bool) {
				if id == 3 {
					return tc.info, tc.registered
				}
				return BrokerInfo{Epoch: 100 + int64(id)}, true
			}
			// Record the fetch without the stale-epoch check in the way.
			brokers := s.brokers
			s.brokers = nil
			must(t, s.updateFollower(3, 0, 0, 0, tc.fetchEpoch, t0+1))
			s.brokers = brokers
			if got := s.maybeExpand(3, 0) != nil; got != tc.want {
				t.Fatalf("expanded = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStaleBrokerEpochFetch(t *testing.T) {
	s := newTestLeader([]int32{1, 2, 3}, 0, 1)
	s.brokers = func(id int32) (BrokerInfo, bool) { return BrokerInfo{Epoch: 50}, true }
	if err := s.updateFollower(2, 0, 0, 0, 49, t0); !errors.Is(err, errStaleBrokerEpoch) {
		t.Fatalf("stale epoch: %v", err)
	}
	must(t, s.updateFollower(2, 0, 0, 0, 50, t0))
	must(t, s.updateFollower(2, 0, 0, 0, -1, t0)) // no epoch: not checked
}

// Reference: Kafka's maybeShrinkIsr / getOutOfSyncReplicas.
func TestShrinkISR(t *testing.T) {
	s := newTestLeader([]int32{1, 2, 3}, 100, 1)
	// 2 keeps up; 3 never fetches after the election.
	must(t, s.updateFollower(2, 100, 0, 100, -1, t0+lag))
	if req := s.maybeShrink(100, t0+lag); req != nil {
		t.Fatalf("shrink within replica.lag.time.max.ms: %v", req.ISR())
	}
	req := s.maybeShrink(100, t0+lag+1)
	if req == nil || !slices.Equal(req.ISR(), []int32{1, 2}) {
		t.Fatalf("shrink = %v, want [1 2]", req)
	}
	// The maximal ISR keeps 3 until the shrink is committed: HW waits.
	if hw, _ := s.highWatermark(100, t0+lag+1); hw != -1 {
		t.Fatalf("HW with a pending shrink = %d, want -1 (3 unknown)", hw)
	}
	// A rejection that says "not applied" reverts to the committed state.
	if c, r := s.applyAlterPartition(req, AlterPartitionResult{Err: kerr.OperationNotAttempted}); c || r || s.pending != nil {
		t.Fatalf("OPERATION_NOT_ATTEMPTED: committed %v retry %v pending %v", c, r, s.pending)
	}
	req = s.maybeShrink(100, t0+lag+1)
	if c, r := s.applyAlterPartition(req, AlterPartitionResult{Err: errors.New("no controller")}); c || !r {
		t.Fatal("an unanswered request must be retried")
	}
	if c, r := s.applyAlterPartition(req, AlterPartitionResult{Err: kerr.InvalidUpdateVersion}); c || r || s.pending != req {
		t.Fatal("INVALID_UPDATE_VERSION: stay pending until metadata")
	}
	// A stale answer (older leader epoch) is ignored.
	if c, _ := s.applyAlterPartition(req, AlterPartitionResult{LeaderEpoch: 4, PartitionEpoch: 11, ISR: []int32{1, 2}}); c {
		t.Fatal("answer for an old leader epoch applied")
	}
	if c, _ := s.applyAlterPartition(req, AlterPartitionResult{LeaderEpoch: 5, PartitionEpoch: 11, ISR: []int32{1, 2}}); !c {
		t.Fatal("commit not applied")
	}
	if hw, _ := s.highWatermark(100, t0+lag+1); hw != 100 {
		t.Fatalf("HW after the shrink = %d, want 100", hw)
	}
	// An answer to a request no longer in flight is ignored.
	if c, _ := s.applyAlterPartition(req, AlterPartitionResult{LeaderEpoch: 5, PartitionEpoch: 12, ISR: []int32{1}}); c || !slices.Equal(s.isr, []int32{1, 2}) {
		t.Fatal("answer to an old request applied")
	}
}

func TestEnoughReplicas(t *testing.T) {
	s := newTestLeader([]int32{1, 2, 3}, 0, 2)
	if done, err := s.enoughReplicas(10, 9); done || err != nil {
		t.Fatal("done below the required offset")
	}
	if done, err := s.enoughReplicas(10, 10); !done || err != nil {
		t.Fatalf("at the required offset: %v %v", done, err)
	}
	s.isr = []int32{1}
	if done, err := s.enoughReplicas(10, 12); !done || !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) {
		t.Fatalf("ISR below min after append: %v %v", done, err)
	}
}

func TestNewLeaderEpochKeepsOffsets(t *testing.T) {
	s := newTestLeader([]int32{1, 2}, 100, 1)
	must(t, s.updateFollower(2, 100, 0, 100, 102, t0+1))
	must(t, s.updateFollower(3, 50, 0, 100, 103, t0+1))
	s.newLeaderEpoch(reg(1, 6, 12, []int32{1, 2, 3}, []int32{1, 2}), 120, t0+100)
	f2, f3 := s.followers[2], s.followers[3]
	if f2.logEndOffset != 100 || f2.lastCaughtUpTimeMs != t0+100 || !f2.hasBrokerEpoch {
		t.Fatalf("ISR follower after re-election: %+v", *f2)
	}
	if f3.logEndOffset != 50 || f3.lastCaughtUpTimeMs != 0 || f3.lastFetchTimeMs != 0 {
		t.Fatalf("non-ISR follower after re-election: %+v", *f3)
	}
	if s.epochStartOffset != 120 || s.leaderEpoch != 6 {
		t.Fatalf("epoch %d start %d", s.leaderEpoch, s.epochStartOffset)
	}
}

// Reference: Kafka's AbstractFetcherThread.getOffsetTruncationState
// (KIP-101, KIP-279).
func TestTruncationOffset(t *testing.T) {
	// The follower's epochs: 1 from 0, 3 from 10, 4 from 20; LEO 30.
	local := func(e int32) (int32, int64) {
		switch {
		case e < 1:
			return e, 0
		case e < 3:
			return 1, 10
		case e < 4:
			return 3, 20
		default:
			return 4, 30
		}
	}
	for _, tc := range []struct {
		name          string
		epoch         int32
		end           int64
		want          int64
		wantCompleted bool
	}{
		{"same epoch, leader ends first", 4, 25, 25, true},
		{"same epoch, follower ends first", 3, 25, 20, true},
		{"leader's epoch unknown to the follower: end of our smaller one, ask again", 2, 15, 10, false},
		{"leader ends past our log", 4, 40, 30, true},
		{"undefined end offset: back to the fetch offset", -1, -1, 12, true},
		{"undefined epoch: leader's end", -1, 18, 18, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, completed := truncationOffset(tc.epoch, tc.end, 12, 30, local)
			if got != tc.want || completed != tc.wantCompleted {
				t.Fatalf("truncationOffset = %d, %v; want %d, %v", got, completed, tc.want, tc.wantCompleted)
			}
		})
	}
	// A follower with no epoch at or below the leader's: the leader's end.
	none := func(int32) (int32, int64) { return -1, -1 }
	if got, c := truncationOffset(2, 15, 12, 30, none); got != 15 || !c {
		t.Fatalf("no local epoch: %d %v", got, c)
	}
}

func TestWholeBatches(t *testing.T) {
	a, b := batch(t, 2, "a"), batch(t, 3, "b")
	both := append(append([]byte(nil), a...), b...)
	for cut := 0; cut <= len(both); cut++ {
		got := wholeBatches(both[:cut])
		want := 0
		if cut >= len(a) {
			want = len(a)
		}
		if cut == len(both) {
			want = len(both)
		}
		if len(got) != want {
			t.Fatalf("cut %d: %d bytes, want %d", cut, len(got), want)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBrokerLookupFromImage(t *testing.T) {
	m := New(Config{NodeID: 1}, nil)
	if info, ok := m.cfg.Brokers(2); !ok || info.Epoch != -1 || m.cfg.BrokerEpoch() != -1 {
		t.Fatalf("before any registration: %+v %v, own epoch %d", info, ok, m.cfg.BrokerEpoch())
	}
	im, err := metadata.Empty.Apply([]metadata.Record{
		{Type: metadata.TypeRegisterBroker, Broker: &metadata.BrokerRecord{ID: 1, Epoch: 3}},
		{Type: metadata.TypeRegisterBroker, Broker: &metadata.BrokerRecord{ID: 2, Epoch: 4, Fenced: true}},
	})
	must(t, err)
	m.image.Store(im)
	if info, ok := m.cfg.Brokers(2); !ok || info.Epoch != 4 || !info.Fenced {
		t.Fatalf("broker 2: %+v %v", info, ok)
	}
	if _, ok := m.cfg.Brokers(9); ok {
		t.Fatal("unregistered broker found")
	}
	if got := m.cfg.BrokerEpoch(); got != 3 {
		t.Fatalf("own epoch %d, want 3", got)
	}
}
