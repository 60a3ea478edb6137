package streams

import (
	"bytes"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
)

// FuzzDecodeBufferEntry: a suppression buffer entry read back from its
// changelog never panics the decoder, and one that decodes encodes to
// the same bytes.
func FuzzDecodeBufferEntry(f *testing.F) {
	e := &bufferEntry{key: []byte("k"), bufferTime: 10, recordTime: 4, newValue: []byte("new"), oldValue: []byte("old"), hasNew: true, hasOld: true}
	f.Add([]byte("k"), e.encode())
	f.Add([]byte{}, (&bufferEntry{}).encode())
	f.Add([]byte("k"), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		got, err := decodeBufferEntry(key, value)
		if err != nil {
			return
		}
		if !bytes.Equal(got.encode(), value) {
			t.Fatalf("entry %q does not round-trip", value)
		}
	})
}

// FuzzWindowedSerdes: the windowed key deserializers never panic, and
// what they decode serializes back to the same bytes.
func FuzzWindowedSerdes(f *testing.F) {
	tw := TimeWindowedSerde(serde.String(), 10*time.Millisecond)
	sw := SessionWindowedSerde(serde.String())
	f.Add([]byte("k\x00\x00\x00\x00\x00\x00\x01\x00"))
	f.Add([]byte("k\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if w, err := tw.Deserialize("t", b); err == nil {
			out, err := tw.Serialize("t", w)
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("time-windowed %q: %q %v", b, out, err)
			}
		}
		if w, err := sw.Deserialize("t", b); err == nil {
			out, err := sw.Serialize("t", w)
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("session-windowed %q: %q %v", b, out, err)
			}
		}
	})
}
