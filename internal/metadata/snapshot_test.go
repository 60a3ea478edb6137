package metadata

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func snapshotTestImage(t testing.TB) *Image {
	t.Helper()
	a, b := NewTopicID(), NewTopicID()
	im, err := Empty.Apply([]Record{
		{Type: TypeTopic, TopicName: "b", TopicID: b},
		{Type: TypePartition, TopicID: b, Partition: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 7},
		{Type: TypeTopic, TopicName: "a", TopicID: a},
		{Type: TypePartition, TopicID: a, Partition: 0, Replicas: []int32{2}, ISR: []int32{2}, Leader: 2},
		{Type: TypePartition, TopicID: a, Partition: 1, Replicas: []int32{3}, ISR: []int32{3}, Leader: -1, LeaderEpoch: 1},
		{Type: TypeConfig, ResourceType: ResourceTopic, ResourceName: "a", Name: "retention.ms", Value: str("5")},
		{Type: TypeConfig, ResourceType: ResourceTopic, ResourceName: "a", Name: "cleanup.policy", Value: str("compact")},
		{Type: TypeConfig, ResourceType: ResourceBroker, ResourceName: "", Name: "log.retention.ms", Value: str("9")},
	})
	if err != nil {
		t.Fatal(err)
	}
	im, err = im.Apply([]Record{
		{Type: TypePartitionChg, TopicID: b, Partition: 0, ISR: []int32{1}, Leader: 1, LeaderEpoch: 5, PartitionEpoch: 8,
			AddingReplicas: []int32{4}, RemovingReplicas: []int32{3}},
		{Type: TypeRegisterBroker, Broker: &BrokerRecord{ID: 2, Epoch: 11, Rack: "r2", Fenced: true,
			Endpoints: []Endpoint{{Listener: "PLAINTEXT", Host: "h2", Port: 9092}}}},
		{Type: TypeRegisterBroker, Broker: &BrokerRecord{ID: 1, Epoch: 10, InControlledShutdown: true,
			Endpoints: []Endpoint{{Listener: "PLAINTEXT", Host: "h1", Port: 9092}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// sameImage compares what an Image exposes.
func sameImage(t *testing.T, got, want *Image) {
	t.Helper()
	if got.Offset != want.Offset {
		t.Fatalf("offset %d, want %d", got.Offset, want.Offset)
	}
	if !reflect.DeepEqual(got.TopicNames(), want.TopicNames()) {
		t.Fatalf("topics %v, want %v", got.TopicNames(), want.TopicNames())
	}
	for _, name := range want.TopicNames() {
		g, _ := got.Topic(name)
		w, _ := want.Topic(name)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("topic %s: %+v, want %+v", name, g, w)
		}
		if byID, ok := got.TopicByID(w.ID); !ok || byID != g {
			t.Fatalf("topic %s not found by id", name)
		}
		r := ConfigResource{Type: ResourceTopic, Name: name}
		if !reflect.DeepEqual(got.Configs(r), want.Configs(r)) {
			t.Fatalf("configs of %s: %v, want %v", name, got.Configs(r), want.Configs(r))
		}
	}
	if !reflect.DeepEqual(got.Brokers(), want.Brokers()) {
		t.Fatalf("brokers %+v, want %+v", got.Brokers(), want.Brokers())
	}
	if !reflect.DeepEqual(got.configs, want.configs) {
		t.Fatalf("configs %v, want %v", got.configs, want.configs)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	im := snapshotTestImage(t)
	b, err := EncodeImage(im)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, got, im)

	// Deterministic: the decoded image encodes to the same bytes.
	b2, err := EncodeImage(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("encoding not deterministic:\n%s\n%s", b, b2)
	}

	// The empty image round-trips too.
	e, err := EncodeImage(Empty)
	if err != nil {
		t.Fatal(err)
	}
	got, err = DecodeImage(e)
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, got, Empty)
}

func TestSnapshotRecordsOrder(t *testing.T) {
	im := snapshotTestImage(t)
	var kinds []string
	for _, r := range im.Records() {
		switch r.Type {
		case TypeTopic:
			kinds = append(kinds, "T:"+r.TopicName)
		case TypePartition:
			kinds = append(kinds, "P")
		case TypeConfig:
			kinds = append(kinds, "C:"+r.ResourceName+"/"+r.Name)
		}
	}
	want := []string{"T:a", "P", "P", "T:b", "P", "C:a/cleanup.policy", "C:a/retention.ms", "C:/log.retention.ms"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("records %v, want %v", kinds, want)
	}
}

func TestDecodeImageRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":        "{",
		"wrong version":   `{"version":2,"offset":0,"records":[]}`,
		"negative offset": `{"version":1,"offset":-1,"records":[]}`,
		"bad record":      `{"version":1,"offset":3,"records":[{"type":"PartitionRecord","topicId":"AAAAAAAAAAAAAAAAAAAAAQ"}]}`,
		"unknown type":    `{"version":1,"offset":3,"records":[{"type":"Nope"}]}`,
		"id used twice": `{"version":1,"offset":3,"records":[{"type":"TopicRecord","topicName":"a","topicId":"AAAAAAAAAAAAAAAAAAAAAQ"},` +
			`{"type":"TopicRecord","topicName":"b","topicId":"AAAAAAAAAAAAAAAAAAAAAQ"}]}`,
	} {
		if _, err := DecodeImage([]byte(in)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: err %v, want ErrBadSnapshot", name, err)
		}
	}
}

// FuzzDecodeImage: DecodeImage never panics, and whatever it accepts
// encodes to a snapshot that decodes to the same image.
func FuzzDecodeImage(f *testing.F) {
	seed, err := EncodeImage(snapshotTestImage(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"version":1,"offset":0,"records":[]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := DecodeImage(b)
		if err != nil {
			return
		}
		enc, err := EncodeImage(im)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeImage(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		enc2, _ := EncodeImage(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable:\n%s\n%s", enc, enc2)
		}
	})
}
