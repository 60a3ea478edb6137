package metadata

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func str(s string) *string { return &s }

func TestImageApply(t *testing.T) {
	id := NewTopicID()
	im, err := Empty.Apply([]Record{
		{Type: TypeTopic, TopicName: "t", TopicID: id},
		{Type: TypePartition, TopicID: id, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		{Type: TypePartition, TopicID: id, Partition: 1, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		{Type: TypeConfig, ResourceType: ResourceTopic, ResourceName: "t", Name: "retention.ms", Value: str("5")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tp, ok := im.Topic("t")
	if !ok || len(tp.Partitions) != 2 || tp.ID != id {
		t.Fatalf("topic %+v", tp)
	}
	if byID, _ := im.TopicByID(id); byID != tp {
		t.Fatal("by id differs")
	}
	if got := im.Configs(ConfigResource{Type: ResourceTopic, Name: "t"}); !reflect.DeepEqual(got, map[string]string{"retention.ms": "5"}) {
		t.Fatalf("configs %v", got)
	}

	// A change leaves the old image untouched.
	next, err := im.Apply([]Record{
		{Type: TypePartitionChg, TopicID: id, Partition: 1, Leader: -1, LeaderEpoch: 3, PartitionEpoch: 1},
		{Type: TypeConfig, ResourceType: ResourceTopic, ResourceName: "t", Name: "retention.ms"},
	})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := im.Topic("t")
	if old.Partitions[1].Leader != 1 || old.Partitions[1].LeaderEpoch != 0 {
		t.Fatalf("old image modified: %+v", old.Partitions[1])
	}
	nt, _ := next.Topic("t")
	if nt.Partitions[1].Leader != -1 || nt.Partitions[1].LeaderEpoch != 3 {
		t.Fatalf("change not applied: %+v", nt.Partitions[1])
	}
	if len(next.Configs(ConfigResource{Type: ResourceTopic, Name: "t"})) != 0 {
		t.Fatal("config not removed")
	}
	if len(im.Configs(ConfigResource{Type: ResourceTopic, Name: "t"})) != 1 {
		t.Fatal("old image's config removed")
	}

	gone, err := next.Apply([]Record{{Type: TypeRemoveTopic, TopicID: id}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gone.Topic("t"); ok || gone.NumTopics() != 0 {
		t.Fatal("topic not removed")
	}
	if _, ok := next.Topic("t"); !ok {
		t.Fatal("removal changed the previous image")
	}
}

func TestImageApplyRejects(t *testing.T) {
	id := NewTopicID()
	base, err := Empty.Apply([]Record{{Type: TypeTopic, TopicName: "t", TopicID: id}})
	if err != nil {
		t.Fatal(err)
	}
	for name, recs := range map[string][]Record{
		"duplicate topic":        {{Type: TypeTopic, TopicName: "t", TopicID: NewTopicID()}},
		"partition gap":          {{Type: TypePartition, TopicID: id, Partition: 1}},
		"unknown topic id":       {{Type: TypePartition, TopicID: NewTopicID()}},
		"change of no partition": {{Type: TypePartitionChg, TopicID: id, Partition: 0}},
		"remove unknown":         {{Type: TypeRemoveTopic, TopicID: NewTopicID()}},
		"unknown type":           {{Type: "Nope"}},
	} {
		if _, err := base.Apply(recs); err == nil {
			t.Errorf("%s: applied", name)
		}
	}
}

func TestFileJournalReplayCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenFileJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Replay(func([]Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	id := NewTopicID()
	batches := [][]Record{
		{{Type: TypeTopic, TopicName: "a", TopicID: id}},
		{{Type: TypeConfig, ResourceType: ResourceBroker, Name: "x", Value: str("1")}},
	}
	for _, b := range batches {
		if err := j.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if err := j.Append(batches[0]); err != ErrJournalClosed {
		t.Fatalf("append after close: %v", err)
	}

	// A torn third batch: a frame header promising more than is there.
	p := filepath.Join(dir, "metadata.journal")
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 1, 2, 3, 4, '['})
	f.Close()
	size := func() int64 { st, _ := os.Stat(p); return st.Size() }
	torn := size()

	j, err = OpenFileJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]Record
	if err := j.Replay(func(r []Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, batches) {
		t.Fatalf("replayed %+v, want %+v", got, batches)
	}
	if size() != torn-9 {
		t.Fatalf("torn tail not cut: %d bytes, want %d", size(), torn-9)
	}
	// Appends continue after the valid prefix.
	if err := j.Append(batches[0]); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _ = OpenFileJournal(dir)
	n := 0
	j.Replay(func([]Record) error { n++; return nil })
	j.Close()
	if n != 3 {
		t.Fatalf("replayed %d batches after reopen, want 3", n)
	}
}
