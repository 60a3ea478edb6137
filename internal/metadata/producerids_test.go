package metadata

import (
	"encoding/json"
	"testing"
)

func producerIDsRecord(broker int32, epoch, next int64) Record {
	return Record{Type: TypeProducerIDs, ProducerIDs: &ProducerIDsRecord{BrokerID: broker, BrokerEpoch: epoch, NextProducerID: next}}
}

// Producer id blocks only move forward (Kafka's
// ProducerIdControlManager.replay refuses a record that does not).
func TestProducerIDsRecordAdvances(t *testing.T) {
	if Empty.NextProducerID() != 0 {
		t.Fatalf("empty image next producer id %d", Empty.NextProducerID())
	}
	im, err := Empty.Apply([]Record{producerIDsRecord(1, 10, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	im, err = im.Apply([]Record{producerIDsRecord(2, 12, 2000), producerIDsRecord(1, 10, 3000)})
	if err != nil {
		t.Fatal(err)
	}
	if im.NextProducerID() != 3000 {
		t.Fatalf("next producer id %d, want 3000", im.NextProducerID())
	}
	// Unrelated records keep it.
	im2, err := im.Apply([]Record{{Type: TypeTopic, TopicName: "t", TopicID: NewTopicID()}})
	if err != nil || im2.NextProducerID() != 3000 {
		t.Fatalf("after a topic record: %d, %v", im2.NextProducerID(), err)
	}
	for _, bad := range []Record{producerIDsRecord(1, 10, 3000), producerIDsRecord(1, 10, 10), {Type: TypeProducerIDs}} {
		if _, err := im.Apply([]Record{bad}); err == nil {
			t.Fatalf("%+v applied", bad)
		}
	}
	if im.NextProducerID() != 3000 {
		t.Fatal("a failed Apply changed the image")
	}
}

func TestProducerIDsInSnapshot(t *testing.T) {
	im := snapshotTestImage(t)
	im, err := im.Apply([]Record{producerIDsRecord(1, 10, 5000)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeImage(im)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.NextProducerID() != 5000 {
		t.Fatalf("next producer id after a snapshot: %d, want 5000", got.NextProducerID())
	}
	if _, err := got.Apply([]Record{producerIDsRecord(1, 10, 5000)}); err == nil {
		t.Fatal("a snapshot let producer ids repeat")
	}
	// Without producer ids the snapshot has no such record.
	b, err = EncodeImage(snapshotTestImage(t))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Records []Record }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Records {
		if r.Type == TypeProducerIDs {
			t.Fatalf("snapshot of an image without producer ids has %+v", r)
		}
	}
}
