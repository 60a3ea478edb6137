package txn

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// TestPartitionFor checks the mapping against Java's String.hashCode
// (values computed independently over UTF-16 code units), including a
// hash of Integer.MIN_VALUE (Utils.abs maps it to 0), a negative hash
// and a character outside the BMP (a surrogate pair).
func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		id    string
		n     int32
		want  int32
		jhash string // Java's hashCode, for the record
	}{
		{"", 50, 0, "0"},
		{"hello", 50, 22, "99162322"},
		{"hello", 7, 0, "99162322"},
		{"polygenelubricants", 50, 0, "-2147483648"},
		{"Aa", 50, 12, "2112"},
		{"BB", 7, 5, "2112"},
		{"😀", 50, 49, "1772899"},
		{"my-transactional-id", 50, 46, "-959806496"},
		{"producer-7", 50, 36, "1752578236"},
		{"ééé", 7, 5, "231369"},
	} {
		if got := PartitionFor(tc.id, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d (hashCode %s)", tc.id, tc.n, got, tc.want, tc.jhash)
		}
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordFormat checks the bytes written against Kafka's
// TransactionLogKey and TransactionLogValue schemas, laid out by hand.
func TestRecordFormat(t *testing.T) {
	parts := map[TopicPartition]struct{}{{"b", 2}: {}, {"a", 1}: {}, {"a", 0}: {}}
	tr := &transit{
		producerID: 1000, prevProducerID: 1000, nextProducerID: -1, producerEpoch: 3, lastProducerEpoch: 2,
		timeoutMs: 60000, state: Ongoing, partitions: parts, startMs: 4, lastUpdateMs: 5, clientVersion: TV2,
	}
	key := unhex(t, "0000 0002 7431") // type 0, "t1"
	for _, tc := range []struct {
		name  string
		tv    int16
		tr    *transit
		value string
	}{{
		name: "v0", tv: TV0, tr: tr,
		value: `0000 00000000000003e8 0003 0000ea60 01
			00000002 0001 61 00000002 00000000 00000001
			         0001 62 00000001 00000002
			0000000000000005 0000000000000004`,
	}, {
		// Flexible: compact lengths (n+1), a tag buffer per partition
		// entry, then the tagged fields previous_producer_id (0) and
		// client_transaction_version (2); next_producer_id (1) is -1,
		// its default, and not written.
		name: "v1", tv: TV2, tr: tr,
		value: `0001 00000000000003e8 0003 0000ea60 01
			03 02 61 03 00000000 00000001 00
			   02 62 02 00000002 00
			0000000000000005 0000000000000004
			02 00 08 00000000000003e8 02 02 0002`,
	}, {
		// Empty writes null partitions (compact null: 0).
		name: "v1 empty", tv: TV1,
		tr: &transit{producerID: 7, prevProducerID: 7, nextProducerID: 9, producerEpoch: 0, timeoutMs: 1000,
			state: Empty, partitions: map[TopicPartition]struct{}{}, startMs: -1, lastUpdateMs: 1},
		value: `0001 0000000000000007 0000 000003e8 00 00
			0000000000000001 ffffffffffffffff
			02 00 08 0000000000000007 01 08 0000000000000009`,
	}, {
		name: "v0 empty", tv: TV0,
		tr: &transit{producerID: 7, prevProducerID: 7, nextProducerID: -1, producerEpoch: 0, timeoutMs: 1000,
			state: Empty, partitions: map[TopicPartition]struct{}{}, startMs: -1, lastUpdateMs: 1},
		value: `0000 0000000000000007 0000 000003e8 00 ffffffff
			0000000000000001 ffffffffffffffff`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := txnRecord("t1", tc.tr, tc.tv)
			if !bytes.Equal(r.Key, key) {
				t.Errorf("key %x, want %x", r.Key, key)
			}
			if want := unhex(t, tc.value); !bytes.Equal(r.Value, want) {
				t.Errorf("value\n got %x\nwant %x", r.Value, want)
			}
			d, err := decodeRecord(r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			m := d.meta
			if d.id != "t1" || m.producerID != tc.tr.producerID || m.producerEpoch != tc.tr.producerEpoch ||
				m.state != tc.tr.state || m.timeoutMs != tc.tr.timeoutMs || m.startMs != tc.tr.startMs ||
				m.lastUpdateMs != tc.tr.lastUpdateMs || len(m.partitions) != len(tc.tr.partitions) {
				t.Errorf("decoded %+v from %+v", m, tc.tr)
			}
			if m.lastProducerEpoch != NoProducerEpoch {
				t.Errorf("last epoch %d: it is not in the log", m.lastProducerEpoch)
			}
			// Version 0 does not carry the KIP-890 fields.
			wantPrev, wantNext, wantTV := tc.tr.prevProducerID, tc.tr.nextProducerID, tc.tr.clientVersion
			if tc.tv == TV0 {
				wantPrev, wantNext, wantTV = -1, -1, 0
			}
			if m.prevProducerID != wantPrev || m.nextProducerID != wantNext || m.clientVersion != wantTV {
				t.Errorf("decoded prev %d next %d tv %d, want %d %d %d", m.prevProducerID, m.nextProducerID, m.clientVersion, wantPrev, wantNext, wantTV)
			}
		})
	}
	if r := tombstone("t1"); !bytes.Equal(r.Key, key) || r.Value != nil {
		t.Errorf("tombstone %x %x", r.Key, r.Value)
	}
}

// TestReplaySkipsWhatItCannotUse: records the coordinator does not write
// are logged and skipped, never failing a load.
func TestReplaySkipsWhatItCannotUse(t *testing.T) {
	cfg := Config{ProducerIDs: &seqIDs{next: 1}, WriteMarkers: func(MarkerRequest) {}}
	s := NewShard(&cfg, 0, 1, coordinator.NewTimers[*Shard]())
	good := txnRecord("a", &transit{producerID: 5, producerEpoch: 1, state: Empty, partitions: map[TopicPartition]struct{}{}, startMs: -1}, TV2)
	fence := txnRecord("b", &transit{producerID: 6, producerEpoch: 1, state: PrepareEpochFence, partitions: map[TopicPartition]struct{}{}}, TV2)
	dead := txnRecord("a", &transit{producerID: 5, producerEpoch: 1, state: Dead, partitions: map[TopicPartition]struct{}{}}, TV2)
	for i, r := range []coordinator.Record{
		good,
		{Key: []byte{0, 1, 0, 1, 'x'}, Value: good.Value},                  // unknown key version
		{Key: good.Key, Value: []byte{0, 2, 0}},                            // unknown value version
		{Key: good.Key, Value: []byte{0, 1, 0, 0}},                         // truncated
		{Key: []byte{0}, Value: nil},                                       // short key
		{Key: txnKey("c"), Value: append([]byte(nil), good.Value[:19]...)}, // cut in the middle
		fence,
	} {
		if err := s.Replay(coordinator.LoggedRecord{Offset: int64(i), Key: r.Key, Value: r.Value}); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if len(s.txns) != 1 || s.txns["a"] == nil || s.txns["a"].producerID != 5 {
		t.Fatalf("after replay: %v", s.txns)
	}
	// A Dead value (never written by Kafka) forgets the id, as a
	// tombstone does.
	if err := s.Replay(coordinator.LoggedRecord{Key: dead.Key, Value: dead.Value}); err != nil || len(s.txns) != 0 {
		t.Fatalf("dead record: %v, %d ids", err, len(s.txns))
	}
}

type seqIDs struct{ next int64 }

func (s *seqIDs) GenerateProducerID() (int64, error) { s.next++; return s.next - 1, nil }

// FuzzDecodeRecord: decoding never panics, and what decodes encodes back
// to a record that decodes the same.
func FuzzDecodeRecord(f *testing.F) {
	tr := &transit{producerID: 1000, prevProducerID: 1000, nextProducerID: 2000, producerEpoch: 3, timeoutMs: 60000,
		state: PrepareCommit, partitions: map[TopicPartition]struct{}{{"a", 0}: {}, {"b", 1}: {}}, startMs: 4, lastUpdateMs: 5, clientVersion: TV2}
	for _, tv := range []int16{TV0, TV2} {
		r := txnRecord("id", tr, tv)
		f.Add(r.Key, r.Value)
	}
	f.Add(txnKey("x"), []byte(nil))
	f.Add([]byte{0, 0, 0, 1}, []byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		d, err := decodeRecord(key, value)
		if err != nil || d.meta == nil {
			return
		}
		m := d.meta
		tv := TV0
		if value[1] == 1 {
			tv = TV2
		}
		t2 := &transit{producerID: m.producerID, prevProducerID: m.prevProducerID, nextProducerID: m.nextProducerID,
			producerEpoch: m.producerEpoch, timeoutMs: m.timeoutMs, state: m.state, partitions: m.partitions,
			startMs: m.startMs, lastUpdateMs: m.lastUpdateMs, clientVersion: m.clientVersion}
		r := txnRecord(d.id, t2, tv)
		d2, err := decodeRecord(r.Key, r.Value)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		m2 := d2.meta
		if d2.id != d.id || m2.producerID != m.producerID || m2.producerEpoch != m.producerEpoch || m2.state != m.state ||
			m2.timeoutMs != m.timeoutMs || m2.startMs != m.startMs || m2.lastUpdateMs != m.lastUpdateMs ||
			len(m2.partitions) != len(m.partitions) {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
	})
}
