package controller

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
)

// openSingleVoter opens a quorum of one controller (node 1) over
// loopback and waits until it decides.
func openSingleVoter(t *testing.T) *Controller {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenQuorum(Config{NodeID: 1, NumPartitions: 1, DefaultReplicationFactor: 1}, QuorumConfig{
		Raft: raft.Config{
			NodeID: 1, Voters: map[int32]string{1: ln.Addr().String()}, Dir: t.TempDir(),
			Listen: func(string, string) (net.Listener, error) { return ln, nil },
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	waitUntil(t, "the single voter to lead", func() bool { id, _ := c.ActiveController(); return id == 1 })
	return c
}

// register registers broker id on c, retrying while c is a step away
// from deciding.
func register(t *testing.T, c *Controller, id int32) {
	t.Helper()
	waitUntil(t, "registration", func() bool {
		r := c.RegisterBroker(BrokerRegistration{BrokerID: id, IncarnationID: metadata.NewIncarnationID()})
		return r.Err == nil
	})
}

// observe applies fetched batches to im as an observer does.
func observe(t *testing.T, im *metadata.Image, batches []metadata.LogBatch) *metadata.Image {
	t.Helper()
	for _, b := range batches {
		if b.Control {
			continue
		}
		next, err := im.Apply(b.Records)
		if err != nil {
			t.Fatalf("batch at %d: %v", b.Offset, err)
		}
		im = next
	}
	return im
}

func encode(t *testing.T, im *metadata.Image) []byte {
	t.Helper()
	b, err := metadata.EncodeImage(im)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFetchMetadata serves the metadata log to an observer: every entry
// in order at Kafka offsets (Raft index - 1), a long poll that ends at
// the next commit, an empty answer when max wait passes, the snapshot id
// once the log is compacted past the fetch offset, and the observer's
// fetch offset in DescribeQuorum's observers.
//
// Reference: KIP-595 (Fetch of the metadata log), KIP-630
// (FetchSnapshot), KIP-836 (observers' replica states).
func TestFetchMetadata(t *testing.T) {
	c := openSingleVoter(t)
	for id := int32(1); id <= 3; id++ {
		register(t, c, id)
	}
	ctx := context.Background()
	res := c.FetchMetadata(ctx, MetadataFetch{ReplicaID: 7, FetchOffset: 0, MaxBytes: 1 << 20})
	if res.Err != nil || res.Leader != 1 || res.Epoch < 1 || res.Snapshot != nil {
		t.Fatalf("fetch from 0: %+v", res)
	}
	if res.LogStartOffset != 0 || res.HighWatermark != int64(len(res.Batches)) {
		t.Fatalf("log start %d, high watermark %d, %d batches", res.LogStartOffset, res.HighWatermark, len(res.Batches))
	}
	for i, b := range res.Batches {
		if b.Offset != int64(i) {
			t.Fatalf("batch %d at offset %d", i, b.Offset)
		}
	}
	if !res.Batches[0].Control {
		t.Fatalf("the leader's empty entry should come first as a control batch: %+v", res.Batches[0])
	}
	im := observe(t, metadata.Empty, res.Batches)
	if !bytes.Equal(encode(t, im), encode(t, c.Image())) {
		t.Fatalf("observed image differs from the controller's")
	}
	hw := res.HighWatermark

	// A fetch at the high watermark waits for the next commit.
	done := make(chan MetadataFetchResult, 1)
	go func() {
		done <- c.FetchMetadata(ctx, MetadataFetch{ReplicaID: 7, FetchOffset: hw, MaxBytes: 1 << 20, MaxWait: 30 * time.Second})
	}()
	register(t, c, 4)
	res = <-done
	if res.Err != nil || len(res.Batches) == 0 || res.Batches[0].Offset != hw {
		t.Fatalf("long poll: %+v", res)
	}
	im = observe(t, im, res.Batches)
	if !bytes.Equal(encode(t, im), encode(t, c.Image())) {
		t.Fatalf("observed image differs after the long poll")
	}
	hw = res.Batches[len(res.Batches)-1].Offset + 1
	res = c.FetchMetadata(ctx, MetadataFetch{ReplicaID: 7, FetchOffset: hw, MaxBytes: 1 << 20, MaxWait: 20 * time.Millisecond})
	if res.Err != nil || len(res.Batches) != 0 || res.HighWatermark != hw {
		t.Fatalf("nothing new: %+v", res)
	}

	qs, _ := c.QuorumStatus()
	if len(qs.Observers) != 1 || qs.Observers[0].ID != 7 || qs.Observers[0].LogEndOffset != hw || qs.Observers[0].LastCaughtUp.IsZero() {
		t.Fatalf("observers %+v, want node 7 at %d, caught up", qs.Observers, hw)
	}

	// Compact the log: a fetch below the snapshot gets its id, and the
	// snapshot plus what follows rebuilds the image.
	q := c.quorum
	applied := q.journal.Node().Applied()
	if err := q.journal.Snapshot(applied, encode(t, c.Image())); err != nil {
		t.Fatal(err)
	}
	register(t, c, 5)
	res = c.FetchMetadata(ctx, MetadataFetch{ReplicaID: 8, FetchOffset: 1, MaxBytes: 1 << 20})
	if res.Err != nil || res.Snapshot == nil || res.Snapshot.EndOffset != int64(applied) || res.LogStartOffset != int64(applied) || len(res.Batches) != 0 {
		t.Fatalf("fetch below the snapshot: %+v", res)
	}
	data, _, _, err := c.MetadataSnapshot(*res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	snapIm, err := metadata.DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	res = c.FetchMetadata(ctx, MetadataFetch{ReplicaID: 8, FetchOffset: res.Snapshot.EndOffset, MaxBytes: 1 << 20})
	if res.Err != nil || len(res.Batches) == 0 {
		t.Fatalf("fetch after the snapshot: %+v", res)
	}
	if im := observe(t, snapIm, res.Batches); !bytes.Equal(encode(t, im), encode(t, c.Image())) {
		t.Fatalf("snapshot + log differs from the controller's image")
	}
	if _, _, _, err := c.MetadataSnapshot(SnapshotID{EndOffset: int64(applied) - 1, Epoch: res.Epoch}); !errors.Is(err, kerr.SnapshotNotFound) {
		t.Fatalf("an unknown snapshot: %v", err)
	}

	// UnregisterBroker removes a registration once; then it is unknown.
	if err := c.UnregisterBroker(5); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Image().Broker(5); ok {
		t.Fatal("broker 5 still registered")
	}
	if err := c.UnregisterBroker(5); !errors.Is(err, kerr.BrokerIDNotRegistered) {
		t.Fatalf("unregister an unknown broker: %v", err)
	}
}

// TestObserverController checks a broker-only node's Controller: it
// decides nothing and publishes the images it is handed, in order;
// serving the metadata log is for quorum members only.
func TestObserverController(t *testing.T) {
	var published []*metadata.Image
	c := NewObserver(Config{NodeID: 4}, func(im *metadata.Image) { published = append(published, im) })
	if c.Image() != metadata.Empty {
		t.Fatal("an observer starts from the empty image")
	}
	if r := c.CreateTopics([]CreateTopic{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}}, false); code(r[0].Err) != kerr.NotController.Code {
		t.Fatalf("CreateTopics on an observer: %v", r[0].Err)
	}
	if r := c.RegisterBroker(BrokerRegistration{BrokerID: 4}); code(r.Err) != kerr.NotController.Code {
		t.Fatalf("RegisterBroker on an observer: %+v", r)
	}
	if err := c.UnregisterBroker(4); code(err) != kerr.NotController.Code {
		t.Fatalf("UnregisterBroker on an observer: %v", err)
	}
	im, err := metadata.Empty.Apply(topicRecords("a", 1))
	if err != nil {
		t.Fatal(err)
	}
	c.Observe(im)
	if c.Image() != im || len(published) != 1 || published[0] != im {
		t.Fatalf("Observe: image %v, published %d", c.Image() == im, len(published))
	}
	if res := c.FetchMetadata(context.Background(), MetadataFetch{}); !errors.Is(res.Err, kerr.NotLeaderForPartition) {
		t.Fatalf("FetchMetadata on an observer: %+v", res)
	}
	if _, ok := c.QuorumStatus(); ok {
		t.Fatal("an observer has no quorum status of its own")
	}
}
