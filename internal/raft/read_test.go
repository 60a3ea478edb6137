package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestReadCommitted reads a single voter's log: every committed entry
// once, raft's own entries without data, nothing past the applied index,
// ErrCompacted for what a snapshot covers; WaitApplied wakes on a commit.
func TestReadCommitted(t *testing.T) {
	c := newTestCluster(t, 1)
	n := c.start(0)
	c.waitLeader([]int32{0})

	var want []string
	var last uint64
	for i := range 5 {
		d := fmt.Sprintf("entry-%d", i)
		last = c.propose(d)
		want = append(want, d)
	}
	c.waitApplied(last)

	ents, err := n.ReadCommitted(1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range ents {
		if e.Index != uint64(i+1) {
			t.Fatalf("entry %d has index %d: gap", i, e.Index)
		}
		if e.Data != nil {
			got = append(got, string(e.Data))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	if ents[len(ents)-1].Index != last || ents[0].Data != nil {
		t.Fatalf("entries %v: want the leader's empty entry first and %d last", ents, last)
	}

	// A size limit still returns one entry, and reading resumes where it
	// stopped.
	one, err := n.ReadCommitted(2, 1)
	if err != nil || len(one) != 1 || string(one[0].Data) != want[0] {
		t.Fatalf("limited read: %v, %v", one, err)
	}
	if past, err := n.ReadCommitted(last+1, 1<<20); err != nil || len(past) != 0 {
		t.Fatalf("read past the end: %v, %v", past, err)
	}

	// A long poll ends at the next commit.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		done <- n.WaitApplied(ctx, last)
	}()
	next := c.propose("after-wait")
	if err := <-done; err != nil {
		t.Fatalf("WaitApplied: %v", err)
	}
	if n.Applied() < next {
		t.Fatalf("applied %d after WaitApplied, want >= %d", n.Applied(), next)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	err = n.WaitApplied(ctx, next+100)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied with nothing to wait for: %v", err)
	}

	// Compacted entries are gone; the snapshot replaces them.
	idx, data := c.sms[0].snapshot()
	if err := n.Compact(idx, data); err != nil {
		t.Fatal(err)
	}
	if _, err := n.ReadCommitted(idx, 1<<20); !errors.Is(err, ErrCompacted) {
		t.Fatalf("read of a compacted index: %v", err)
	}
	snap, err := n.LatestSnapshot()
	if err != nil || snap.Index != idx || string(snap.Data) != string(data) {
		t.Fatalf("LatestSnapshot = %d %q, %v; want %d %q", snap.Index, snap.Data, err, idx, data)
	}
	after := c.propose("after-snapshot")
	c.waitApplied(after)
	ents, err = n.ReadCommitted(idx+1, 1<<20)
	if err != nil || len(ents) != 1 || string(ents[0].Data) != "after-snapshot" {
		t.Fatalf("read after the snapshot: %v, %v", ents, err)
	}

	c.stop(0)
	if _, err := n.ReadCommitted(1, 1); !errors.Is(err, ErrStopped) {
		t.Fatalf("read on a stopped node: %v", err)
	}
	if err := n.WaitApplied(context.Background(), 1<<40); !errors.Is(err, ErrStopped) {
		t.Fatalf("WaitApplied on a stopped node: %v", err)
	}
}

// TestJournalReadCommitted reads metadata batches back as HandleCommit
// received them, with raft's own entries as batches without records.
func TestJournalReadCommitted(t *testing.T) {
	c := newTestCluster(t, 1)
	l := newImageListener()
	j, err := OpenJournal(c.config(0), l)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0] = j.Node()
	c.waitLeader([]int32{0})
	for i := range 3 {
		if err := j.Append(topicRecords(fmt.Sprintf("t%d", i), i+1)); err != nil {
			t.Fatal(err)
		}
	}
	batches, err := j.ReadCommitted(1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var topics []string
	for i, b := range batches {
		if b.Offset != uint64(i+1) || b.Epoch == 0 {
			t.Fatalf("batch %d: offset %d epoch %d", i, b.Offset, b.Epoch)
		}
		if len(b.Records) > 0 {
			topics = append(topics, b.Records[0].TopicName)
		}
	}
	if fmt.Sprint(topics) != "[t0 t1 t2]" || batches[0].Records != nil {
		t.Fatalf("read topics %v from %d batches", topics, len(batches))
	}
}
