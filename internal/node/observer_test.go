package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// fakeQuorum answers an observer's Fetch and FetchSnapshot as the
// controllers would: voter leader serves the log (entries at offsets
// from logStart, the snapshot before them), the others name the leader
// they know.
type fakeQuorum struct {
	leader   int32
	epoch    int32
	logStart int64
	snapshot []byte // the image before logStart, encoded
	log      []metadata.LogBatch
	// chunk bounds FetchSnapshot answers, to exercise chunking.
	chunk int
	// requests counts requests by API key.
	requests map[int16]int
}

func (q *fakeQuorum) dial(_ context.Context, id int32) (replica.Conn, error) {
	return fakeVoter{q: q, id: id}, nil
}

type fakeVoter struct {
	q  *fakeQuorum
	id int32
}

func (v fakeVoter) Close() error { return nil }

func (v fakeVoter) Request(_ context.Context, req kmsg.Request) (kmsg.Response, error) {
	q := v.q
	if q.requests == nil {
		q.requests = map[int16]int{}
	}
	q.requests[req.Key()]++
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		rp := r.Topics[0].Partitions[0]
		t := kmsg.NewFetchResponseTopic()
		t.TopicID = r.Topics[0].TopicID
		p := kmsg.NewFetchResponseTopicPartition()
		p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = q.leader, q.epoch
		hw := q.logStart + int64(len(q.log))
		switch {
		case v.id != q.leader:
			p.ErrorCode = kerr.NotLeaderForPartition.Code
		case rp.FetchOffset < q.logStart:
			p.HighWatermark, p.LogStartOffset = hw, q.logStart
			p.SnapshotID.EndOffset, p.SnapshotID.Epoch = q.logStart, q.epoch
		default:
			p.HighWatermark, p.LogStartOffset = hw, q.logStart
			var data []byte
			for _, b := range q.log[rp.FetchOffset-q.logStart:] {
				var err error
				if data, err = metadata.AppendLogBatch(data, b); err != nil {
					return nil, err
				}
			}
			p.RecordBatches = data
		}
		t.Partitions = append(t.Partitions, p)
		resp.Topics = append(resp.Topics, t)
		return resp, nil
	case *kmsg.FetchSnapshotRequest:
		resp := r.ResponseKind().(*kmsg.FetchSnapshotResponse)
		rp := r.Topics[0].Partitions[0]
		t := kmsg.NewFetchSnapshotResponseTopic()
		t.Topic = r.Topics[0].Topic
		p := kmsg.NewFetchSnapshotResponseTopicPartition()
		switch {
		case v.id != q.leader:
			p.ErrorCode = kerr.NotLeaderForPartition.Code
		case rp.SnapshotID.EndOffset != q.logStart:
			p.ErrorCode = kerr.SnapshotNotFound.Code
		default:
			end := min(len(q.snapshot), int(rp.Position)+q.chunk)
			p.Size, p.Position, p.Bytes = int64(len(q.snapshot)), rp.Position, q.snapshot[rp.Position:end]
		}
		t.Partitions = append(t.Partitions, p)
		resp.Topics = append(resp.Topics, t)
		return resp, nil
	}
	return nil, fmt.Errorf("unexpected %T", req)
}

func brokerRecord(id int32, epoch int64) metadata.Record {
	return metadata.Record{Type: metadata.TypeRegisterBroker, Broker: &metadata.BrokerRecord{ID: id, Epoch: epoch, Fenced: true}}
}

func testObserver(q *fakeQuorum, installed *[]*metadata.Image) *metadataObserver {
	return newMetadataObserver(observerConfig{
		NodeID:    4,
		ClusterID: "c",
		Voters:    map[int32]string{1: "h:1", 2: "h:2", 3: "h:3"},
		Dial:      q.dial,
		Install:   func(im *metadata.Image) { *installed = append(*installed, im) },
		Logger:    slog.New(slog.DiscardHandler),
	})
}

func encodedImage(t *testing.T, im *metadata.Image) []byte {
	t.Helper()
	b, err := metadata.EncodeImage(im)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestObserverFollowsLeader: the observer finds the leader through a
// voter that names it, applies the log in order (a control entry only
// moves the offset, a batch that does not apply is skipped as every
// controller skips it), publishes each new image once, and is caught up
// at the high watermark.
//
// Reference: KIP-595 (observers fetch from the leader; current_leader
// in NOT_LEADER_OR_FOLLOWER answers).
func TestObserverFollowsLeader(t *testing.T) {
	q := &fakeQuorum{leader: 3, epoch: 5, log: []metadata.LogBatch{
		{Offset: 0, Epoch: 5, Control: true},
		{Offset: 1, Epoch: 5, Records: []metadata.Record{brokerRecord(1, 1)}},
		// Fencing an unknown broker does not apply: skipped everywhere.
		{Offset: 2, Epoch: 5, Records: []metadata.Record{{Type: metadata.TypeBrokerRegistrationChange, Broker: &metadata.BrokerRecord{ID: 9, Epoch: 1, FencingChange: metadata.FencingFence}}}},
		{Offset: 3, Epoch: 5, Records: []metadata.Record{brokerRecord(2, 2)}},
	}}
	var installed []*metadata.Image
	o := testObserver(q, &installed)
	ctx := context.Background()

	// Voter 1 is asked first and names 3; 3 is asked at once.
	if wait := o.fetchOnce(ctx); wait != 0 {
		t.Fatalf("redirect: wait %v", wait)
	}
	if l, _ := o.leader(); l != 3 {
		t.Fatalf("leader %d after the redirect, want 3", l)
	}
	if wait := o.fetchOnce(ctx); wait != 0 {
		t.Fatalf("fetch from the leader: wait %v", wait)
	}
	st := o.status()
	if st.FetchOffset != 4 || st.HighWatermark != 4 || st.Leader != 3 || st.Epoch != 5 {
		t.Fatalf("status %+v", st)
	}
	if len(installed) != 1 || installed[0].Offset != 2 || installed[0].NumBrokers() != 2 {
		t.Fatalf("installed %d images; last at batch offset %d", len(installed), installed[len(installed)-1].Offset)
	}
	if err := o.waitCaughtUp(time.Second); err != nil {
		t.Fatal(err)
	}
	if o.lastEpoch != 5 {
		t.Fatalf("last fetched epoch %d", o.lastEpoch)
	}

	// Nothing new: no image installed.
	o.fetchOnce(ctx)
	if len(installed) != 1 {
		t.Fatalf("an empty fetch installed an image")
	}
	q.log = append(q.log, metadata.LogBatch{Offset: 4, Epoch: 6, Records: []metadata.Record{brokerRecord(3, 3)}})
	o.fetchOnce(ctx)
	if len(installed) != 2 || installed[1].NumBrokers() != 3 || o.next != 5 || o.lastEpoch != 6 {
		t.Fatalf("after a new entry: %d images, next %d, epoch %d", len(installed), o.next, o.lastEpoch)
	}

	// The leader moves to voter 2; the old leader names it.
	q.leader, q.epoch = 2, 7
	if wait := o.fetchOnce(ctx); wait != 0 {
		t.Fatalf("redirect to the new leader: wait %v", wait)
	}
	o.fetchOnce(ctx)
	if l, e := o.leader(); l != 2 || e != 7 {
		t.Fatalf("leader %d epoch %d, want 2 and 7", l, e)
	}
	// No leader at all: the observer backs off and forgets the leader.
	q.leader = -1
	if wait := o.fetchOnce(ctx); wait <= 0 {
		t.Fatal("no leader: want a backoff")
	}
	if l, _ := o.leader(); l != -1 {
		t.Fatalf("leader %d while none leads", l)
	}
}

// TestObserverLoadsSnapshot: below the leader's log start the observer
// loads the snapshot with FetchSnapshot, in chunks, and applies the log
// after it; the result equals the image that replaying the whole log
// gives.
//
// Reference: KIP-630 (FetchSnapshot).
func TestObserverLoadsSnapshot(t *testing.T) {
	im := metadata.Empty
	for id := int32(1); id <= 20; id++ {
		next, err := im.Apply([]metadata.Record{brokerRecord(id, int64(id))})
		if err != nil {
			t.Fatal(err)
		}
		im = next
	}
	q := &fakeQuorum{leader: 1, epoch: 2, logStart: 30, snapshot: encodedImage(t, im), chunk: 100,
		log: []metadata.LogBatch{{Offset: 30, Epoch: 2, Records: []metadata.Record{brokerRecord(21, 21)}}}}
	var installed []*metadata.Image
	o := testObserver(q, &installed)
	ctx := context.Background()
	o.fetchOnce(ctx) // snapshot
	o.fetchOnce(ctx) // the entry after it
	if q.requests[59] < 2 {
		t.Fatalf("%d FetchSnapshot requests for a snapshot of %d bytes in chunks of %d", q.requests[59], len(q.snapshot), q.chunk)
	}
	want, err := im.Apply([]metadata.Record{brokerRecord(21, 21)})
	if err != nil {
		t.Fatal(err)
	}
	got := installed[len(installed)-1]
	if !bytes.Equal(encodedImage(t, got), encodedImage(t, want)) || got.Offset != want.Offset {
		t.Fatalf("image after snapshot and log differs: offset %d, want %d", got.Offset, want.Offset)
	}
	if st := o.status(); st.SnapshotsLoaded != 1 || st.FetchOffset != 31 {
		t.Fatalf("status %+v", st)
	}
}

// TestApplyLogBatches checks the pure apply step: batches already
// applied are skipped, a gap is an error, offsets and epochs advance.
func TestApplyLogBatches(t *testing.T) {
	var data []byte
	for _, b := range []metadata.LogBatch{
		{Offset: 5, Epoch: 1, Records: []metadata.Record{brokerRecord(1, 1)}},
		{Offset: 6, Epoch: 2, Control: true},
		{Offset: 7, Epoch: 2, Records: []metadata.Record{brokerRecord(2, 2)}},
	} {
		var err error
		if data, err = metadata.AppendLogBatch(data, b); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	im, next, epoch, err := applyLogBatches(metadata.Empty, 5, data, log)
	if err != nil || next != 8 || epoch != 2 || im.NumBrokers() != 2 || im.Offset != 2 {
		t.Fatalf("from 5: next %d epoch %d brokers %d offset %d err %v", next, epoch, im.NumBrokers(), im.Offset, err)
	}
	im, next, _, err = applyLogBatches(metadata.Empty, 7, data, log)
	if err != nil || next != 8 || im.NumBrokers() != 1 {
		t.Fatalf("from 7: next %d, brokers %d, err %v", next, im.NumBrokers(), err)
	}
	if _, _, _, err := applyLogBatches(metadata.Empty, 4, data, log); err == nil {
		t.Fatal("a gap before the first batch must fail")
	}
	if _, _, _, err := applyLogBatches(metadata.Empty, 5, data[:len(data)-1], log); err != nil {
		t.Fatalf("a truncated last batch is left for the next fetch: %v", err)
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)-2] ^= 1
	if _, _, _, err := applyLogBatches(metadata.Empty, 5, bad, log); !errors.Is(err, metadata.ErrBadLogBatch) {
		t.Fatalf("corrupt batch: %v", err)
	}
}
