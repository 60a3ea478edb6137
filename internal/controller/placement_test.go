package controller

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
)

// bestRackSpread is the naive model: by brute force over every replica
// set that contains leader and uses as many unfenced brokers as possible,
// the largest number of distinct racks a partition can span.
func bestRackSpread(brokers []UsableBroker, leader int32, rf int) int {
	unfenced := 0
	for _, b := range brokers {
		if !b.Fenced {
			unfenced++
		}
	}
	wantUnfenced := min(rf, unfenced)
	best := 0
	var others []UsableBroker
	var lead UsableBroker
	for _, b := range brokers {
		if b.ID == leader {
			lead = b
		} else {
			others = append(others, b)
		}
	}
	// Every subset of others of size rf-1, as a bit mask.
	for mask := 0; mask < 1<<len(others); mask++ {
		set := []UsableBroker{lead}
		for i, b := range others {
			if mask&(1<<i) != 0 {
				set = append(set, b)
			}
		}
		if len(set) != rf {
			continue
		}
		nUnfenced, racks := 0, map[string]bool{}
		for _, b := range set {
			if !b.Fenced {
				nUnfenced++
			}
			racks[b.Rack] = true
		}
		if nUnfenced == wantUnfenced {
			best = max(best, len(racks))
		}
	}
	return best
}

// TestPlaceProperties checks Place on random clusters against the naive
// model (etcd-raft quorum/quick_test.go style): replicas distinct and
// registered, leaders unfenced and balanced within one, fenced brokers
// used only when needed, racks spread as widely as possible.
func TestPlaceProperties(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		nBrokers := 1 + rnd.IntN(9)
		nRacks := rnd.IntN(4) // 0: no racks
		var brokers []UsableBroker
		for i := range nBrokers {
			b := UsableBroker{ID: int32(100 + rnd.IntN(50)*10 + i), Fenced: rnd.IntN(4) == 0}
			if nRacks > 0 {
				b.Rack = fmt.Sprintf("r%d", rnd.IntN(nRacks))
			}
			brokers = append(brokers, b)
		}
		rf := 1 + rnd.IntN(nBrokers)
		spec := PlacementSpec{StartPartition: int32(rnd.IntN(5)), NumPartitions: int32(1 + rnd.IntN(30)), ReplicationFactor: int16(rf)}
		seed := rnd.Uint64()
		got, err := Place(slices.Clone(brokers), spec, seed)

		unfenced := map[int32]bool{}
		known := map[int32]UsableBroker{}
		for _, b := range brokers {
			known[b.ID] = b
			if !b.Fenced {
				unfenced[b.ID] = true
			}
		}
		if len(unfenced) == 0 {
			if apierror.Code(err) != kerr.InvalidReplicationFactor.Code {
				t.Fatalf("iter %d: all fenced: err %v", iter, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		if len(got) != int(spec.NumPartitions) {
			t.Fatalf("iter %d: %d partitions, want %d", iter, len(got), spec.NumPartitions)
		}
		leads := map[int32]int{}
		for p, replicas := range got {
			if len(replicas) != rf {
				t.Fatalf("iter %d p%d: %v has %d replicas, want %d", iter, p, replicas, len(replicas), rf)
			}
			seen := map[int32]bool{}
			nFenced := 0
			racks := map[string]bool{}
			for _, r := range replicas {
				b, ok := known[r]
				if !ok || seen[r] {
					t.Fatalf("iter %d p%d: replicas %v: unknown or repeated broker %d", iter, p, replicas, r)
				}
				seen[r] = true
				racks[b.Rack] = true
				if b.Fenced {
					nFenced++
				}
			}
			if !unfenced[replicas[0]] {
				t.Fatalf("iter %d p%d: fenced leader in %v", iter, p, replicas)
			}
			leads[replicas[0]]++
			if want := max(0, rf-len(unfenced)); nFenced != want {
				t.Fatalf("iter %d p%d: %d fenced replicas in %v, want %d", iter, p, nFenced, replicas, want)
			}
			if want := bestRackSpread(brokers, replicas[0], rf); len(racks) != want {
				t.Fatalf("iter %d p%d: %v spans %d racks, the model finds %d (brokers %+v)", iter, p, replicas, len(racks), want, brokers)
			}
		}
		lo, hi := int(spec.NumPartitions), 0
		for id := range unfenced {
			lo, hi = min(lo, leads[id]), max(hi, leads[id])
		}
		if hi-lo > 1 {
			t.Fatalf("iter %d: leader counts %v span %d..%d", iter, leads, lo, hi)
		}
		again, _ := Place(slices.Clone(brokers), spec, seed)
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("iter %d: same inputs, different placement", iter)
		}
	}
}

// TestPlaceEvenOverRacks: with racks of equal size (or none) and every
// broker up, replicas spread over brokers within one of each other, and
// every partition spans min(rf, racks) racks.
func TestPlaceEvenOverRacks(t *testing.T) {
	for _, tc := range []struct{ brokers, racks, partitions, rf int }{
		{6, 3, 12, 3}, {6, 3, 7, 2}, {5, 0, 10, 3}, {4, 2, 8, 2}, {9, 3, 50, 3}, {8, 4, 13, 3}, {3, 0, 4, 3},
	} {
		var brokers []UsableBroker
		for i := range tc.brokers {
			b := UsableBroker{ID: int32(i + 1)}
			if tc.racks > 0 {
				b.Rack = fmt.Sprintf("rack%d", i%tc.racks)
			}
			brokers = append(brokers, b)
		}
		for seed := range uint64(20) {
			got, err := Place(brokers, PlacementSpec{NumPartitions: int32(tc.partitions), ReplicationFactor: int16(tc.rf)}, seed)
			if err != nil {
				t.Fatal(err)
			}
			count := map[int32]int{}
			for _, replicas := range got {
				racks := map[string]bool{}
				for _, r := range replicas {
					count[r]++
					racks[brokers[r-1].Rack] = true
				}
				if want := min(tc.rf, max(1, tc.racks)); len(racks) != want {
					t.Fatalf("%+v seed %d: %v spans %d racks, want %d", tc, seed, replicas, len(racks), want)
				}
			}
			lo, hi := tc.partitions*tc.rf, 0
			for _, b := range brokers {
				lo, hi = min(lo, count[b.ID]), max(hi, count[b.ID])
			}
			if hi-lo > 1 {
				t.Fatalf("%+v seed %d: replicas per broker %v", tc, seed, count)
			}
		}
	}
}

func TestPlaceErrors(t *testing.T) {
	two := []UsableBroker{{ID: 1}, {ID: 2, Fenced: true}}
	for _, tc := range []struct {
		brokers []UsableBroker
		rf      int16
		msg     string
	}{
		{two, 0, "Invalid replication factor 0: the replication factor must be positive."},
		{two, 3, "The target replication factor of 3 cannot be reached because only 2 broker(s) are registered."},
		{[]UsableBroker{{ID: 1, Fenced: true}}, 1, "All brokers are currently fenced."},
	} {
		_, err := Place(tc.brokers, PlacementSpec{NumPartitions: 1, ReplicationFactor: tc.rf}, 0)
		if apierror.Code(err) != kerr.InvalidReplicationFactor.Code || *apierror.Message(err) != tc.msg {
			t.Errorf("rf %d: %v, want %q", tc.rf, err, tc.msg)
		}
	}
	// A fenced broker is used when the replication factor needs it, never
	// as the leader.
	got, err := Place(two, PlacementSpec{NumPartitions: 3, ReplicationFactor: 2}, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if !slices.Equal(r, []int32{1, 2}) {
			t.Fatalf("placement %v", got)
		}
	}
}

// TestPlaceSingleNode: before any broker registers, the controller places
// every replica on itself, exactly as the single-node placer did.
func TestPlaceSingleNode(t *testing.T) {
	j := &memJournal{}
	c, _ := open(t, j)
	r := c.CreateTopics([]CreateTopic{{Name: "t", NumPartitions: 4, ReplicationFactor: 1}}, false)
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if err := c.CreatePartitions("t", 6, nil, false); err != nil {
		t.Fatal(err)
	}
	tp, _ := c.Image().Topic("t")
	for i, p := range tp.Partitions {
		if !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) || p.Leader != 1 {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
}
