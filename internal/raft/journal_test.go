package raft

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// imageListener keeps a metadata.Image from the journal, as a broker's
// metadata loader will.
type imageListener struct {
	mu        sync.Mutex
	image     *metadata.Image
	offset    uint64
	snapshots []uint64
	leaders   []leaderEvent
}

func newImageListener() *imageListener { return &imageListener{image: metadata.Empty} }

func (l *imageListener) HandleSnapshot(s Snapshot) error {
	im, err := metadata.DecodeImage(s.Data)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.image, l.offset = im, s.Index
	l.snapshots = append(l.snapshots, s.Index)
	return nil
}

func (l *imageListener) HandleCommit(b Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b.Offset <= l.offset {
		return fmt.Errorf("batch %d after %d", b.Offset, l.offset)
	}
	next, err := l.image.Apply(b.Records)
	if err != nil {
		return err
	}
	l.image, l.offset = next, b.Offset
	return nil
}

func (l *imageListener) HandleLeaderChange(leader int32, epoch uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leaders = append(l.leaders, leaderEvent{leader: leader, term: epoch})
}

func (l *imageListener) get() (*metadata.Image, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.image, l.offset
}

func topicRecords(name string, partitions int) []metadata.Record {
	id := metadata.NewTopicID()
	recs := []metadata.Record{{Type: metadata.TypeTopic, TopicName: name, TopicID: id}}
	for p := range partitions {
		recs = append(recs, metadata.Record{Type: metadata.TypePartition, TopicID: id, Partition: int32(p),
			Replicas: []int32{0, 1, 2}, ISR: []int32{0, 1, 2}, Leader: int32(p % 3)})
	}
	return recs
}

// The journal carries metadata batches to a listener on every member; only
// the leader appends; a member that missed compacted batches loads the
// image snapshot and then the batches after it.
func TestJournal(t *testing.T) {
	c := newTestCluster(t, 3)
	journals := map[int32]*Journal{}
	listeners := map[int32]*imageListener{}
	open := func(id int32) {
		l := newImageListener()
		j, err := OpenJournal(c.config(id), l)
		if err != nil {
			t.Fatal(err)
		}
		journals[id], listeners[id] = j, l
		c.nodes[id] = j.Node() // so the cluster helpers and cleanup see it
	}
	for _, id := range c.ids {
		open(id)
	}
	leader, epoch := c.waitLeader(c.ids)
	waitFor(t, "leader's listener to hear it leads", func() bool {
		l := listeners[leader]
		l.mu.Lock()
		defer l.mu.Unlock()
		return slices.Contains(l.leaders, leaderEvent{leader: leader, term: epoch})
	})

	if err := journals[leader].Append(nil); err != nil {
		t.Fatalf("empty append: %v", err)
	}
	for _, id := range c.ids {
		if id == leader {
			continue
		}
		err := journals[id].Append(topicRecords("nope", 1))
		var nl *NotLeaderError
		if !errors.As(err, &nl) || nl.Leader != leader {
			t.Fatalf("append on follower %d: %v", id, err)
		}
	}

	for i := range 3 {
		if err := journals[leader].Append(topicRecords(fmt.Sprintf("t%d", i), i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// Append returns after the leader's own listener has the batch.
	if im, _ := listeners[leader].get(); im.NumTopics() != 3 {
		t.Fatalf("leader image has %d topics after Append returned", im.NumTopics())
	}
	waitSame := func() *metadata.Image {
		t.Helper()
		want, wantOff := listeners[leader].get()
		for _, id := range c.running() {
			waitFor(t, fmt.Sprintf("node %d image at %d", id, wantOff), func() bool {
				_, off := listeners[id].get()
				return off >= wantOff
			})
			got, _ := listeners[id].get()
			if !slices.Equal(got.TopicNames(), want.TopicNames()) {
				t.Fatalf("node %d topics %v, want %v", id, got.TopicNames(), want.TopicNames())
			}
			for _, name := range want.TopicNames() {
				g, _ := got.Topic(name)
				w, _ := want.Topic(name)
				if g.ID != w.ID || len(g.Partitions) != len(w.Partitions) {
					t.Fatalf("node %d topic %s differs", id, name)
				}
			}
		}
		return want
	}
	waitSame()

	var lagger int32 = -1
	for _, id := range c.ids {
		if id != leader {
			lagger = id
			break
		}
	}
	journals[lagger].Close()
	c.nodes[lagger] = nil
	// Messages queued for the lagger before the leader saw it go may
	// still reach it when it returns; after waitProbe they carry at most
	// the next batch, so the later ones can only come from the snapshot.
	c.waitProbe(leader, lagger)

	for i := range 3 {
		if err := journals[leader].Append(topicRecords(fmt.Sprintf("while-away-%d", i), 2)); err != nil {
			t.Fatal(err)
		}
	}
	im, off := listeners[leader].get()
	data, err := metadata.EncodeImage(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := journals[leader].Snapshot(off, data); err != nil {
		t.Fatal(err)
	}
	if err := journals[leader].Append(topicRecords("after-snapshot", 1)); err != nil {
		t.Fatal(err)
	}

	open(lagger)
	want := waitSame()
	l := listeners[lagger]
	l.mu.Lock()
	snaps := slices.Clone(l.snapshots)
	l.mu.Unlock()
	if !slices.Equal(snaps, []uint64{off}) {
		t.Fatalf("lagger loaded snapshots %v, want [%d]", snaps, off)
	}
	if want.NumTopics() != 7 {
		t.Fatalf("topics %v", want.TopicNames())
	}
}
