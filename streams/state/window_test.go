package state

import (
	"bytes"
	"testing"
)

func TestWindowKeyLayout(t *testing.T) {
	for _, tc := range []struct {
		key   string
		start int64
		seq   uint32
		want  string
	}{
		{"k", 0, 0, "k\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"k", 256, 1, "k\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01"},
		{"", 1, 0, "\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00"},
	} {
		b := WindowKey([]byte(tc.key), tc.start, tc.seq)
		if string(b) != tc.want {
			t.Errorf("WindowKey(%q, %d, %d) = %q, want %q", tc.key, tc.start, tc.seq, b, tc.want)
		}
		k, start, seq, ok := SplitWindowKey(b)
		if !ok || string(k) != tc.key || start != tc.start || seq != tc.seq {
			t.Errorf("SplitWindowKey(%q) = %q %d %d %v", b, k, start, seq, ok)
		}
	}
	// Kafka's SessionKeySchema: key, end, start.
	b := SessionKey([]byte("k"), 1, 2)
	if want := "k\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01"; string(b) != want {
		t.Fatalf("SessionKey = %q, want %q", b, want)
	}
	if k, start, end, ok := SplitSessionKey(b); !ok || string(k) != "k" || start != 1 || end != 2 {
		t.Fatalf("SplitSessionKey = %q %d %d %v", k, start, end, ok)
	}
	if _, _, _, ok := SplitWindowKey([]byte("short")); ok {
		t.Fatal("short window key split")
	}
	if _, _, _, ok := SplitSessionKey([]byte("too short key")); ok {
		t.Fatal("short session key split")
	}
}

// FuzzSplitKeys: splitting never panics, and whatever splits joins back
// into the same bytes.
func FuzzSplitKeys(f *testing.F) {
	f.Add([]byte("k\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01"))
	f.Add([]byte("k\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, start, seq, ok := SplitWindowKey(b); ok {
			if !bytes.Equal(WindowKey(k, start, seq), b) {
				t.Fatalf("window key %q does not round-trip", b)
			}
		}
		if k, start, end, ok := SplitSessionKey(b); ok {
			if !bytes.Equal(SessionKey(k, start, end), b) {
				t.Fatalf("session key %q does not round-trip", b)
			}
		}
	})
}
