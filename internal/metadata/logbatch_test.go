package metadata

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gregor-streaming/gregor/internal/record"
)

func testLogBatches() []LogBatch {
	v := "1"
	return []LogBatch{
		{Offset: 0, Epoch: 1, Control: true},
		{Offset: 1, Epoch: 1, Records: []Record{
			{Type: TypeTopic, TopicName: "a", TopicID: TopicID{1}},
			{Type: TypePartition, TopicID: TopicID{1}, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1},
		}},
		{Offset: 2, Epoch: 3, Records: []Record{{Type: TypeConfig, ResourceType: ResourceTopic, ResourceName: "a", Name: "x", Value: &v}}},
	}
}

func TestLogBatchRoundTrip(t *testing.T) {
	want := testLogBatches()
	var data []byte
	for _, b := range want {
		var err error
		if data, err = AppendLogBatch(data, b); err != nil {
			t.Fatal(err)
		}
	}
	// Every batch is a valid Kafka batch with one record at its offset.
	err := record.Batches(data, func(h record.Header, batch []byte) error {
		if err := record.CheckCRC(batch); err != nil {
			return err
		}
		if h.RecordCount != 1 || h.NextOffset() != h.BaseOffset+1 {
			t.Errorf("batch at %d: %d records, next offset %d", h.BaseOffset, h.RecordCount, h.NextOffset())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	read := func(data []byte) []LogBatch {
		t.Helper()
		var got []LogBatch
		if err := ReadLogBatches(data, func(b LogBatch) error { got = append(got, b); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(data); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}
	// A fetch's size limit may cut the last batch: it is left out.
	if got := read(data[:len(data)-5]); !reflect.DeepEqual(got, want[:2]) {
		t.Fatalf("truncated: read %d batches, want 2", len(got))
	}
	if got := read(data[:len(data)-len(data)+10]); len(got) != 0 {
		t.Fatalf("a cut header: read %d batches", len(got))
	}

	// A flipped byte inside a batch fails its CRC.
	bad := append([]byte(nil), data...)
	bad[len(bad)-3] ^= 0xff
	if err := ReadLogBatches(bad, func(LogBatch) error { return nil }); !errors.Is(err, ErrBadLogBatch) {
		t.Fatalf("corrupt batch: %v", err)
	}
	// A batch of two records is not one of ours.
	two, err := record.Build(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
		[]record.Record{{Value: []byte("[]")}, {Value: []byte("[]")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ReadLogBatches(two, func(LogBatch) error { return nil }); !errors.Is(err, ErrBadLogBatch) {
		t.Fatalf("two records: %v", err)
	}
}

// FuzzReadLogBatches: ReadLogBatches never panics; whatever it accepts
// re-encodes to batches that read back the same (the decoder accepts
// only what the encoder can write).
func FuzzReadLogBatches(f *testing.F) {
	var seed []byte
	for _, b := range testLogBatches() {
		seed, _ = AppendLogBatch(seed, b)
	}
	f.Add(seed)
	f.Add(seed[:70])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []LogBatch
		if err := ReadLogBatches(data, func(b LogBatch) error { got = append(got, b); return nil }); err != nil {
			if !errors.Is(err, ErrBadLogBatch) {
				t.Fatalf("error %v does not wrap ErrBadLogBatch", err)
			}
			return
		}
		var again []byte
		for _, b := range got {
			var err error
			if again, err = AppendLogBatch(again, b); err != nil {
				t.Fatalf("re-encode %+v: %v", b, err)
			}
		}
		var back []LogBatch
		if err := ReadLogBatches(again, func(b LogBatch) error { back = append(back, b); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, got) {
			t.Fatalf("re-encoded batches read back differently:\n%+v\n%+v", back, got)
		}
	})
}

func TestLogTopicID(t *testing.T) {
	if got := LogTopicID.String(); got != "AAAAAAAAAAAAAAAAAAAAAQ" {
		t.Fatalf("metadata topic id %s", got)
	}
}
