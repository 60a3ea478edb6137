package streams

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/gregor-streaming/gregor/streams/serde"
)

// Reference values of MurmurHash3 x64 128 (seed 0), as printed by the
// reference implementation: h1 then h2.
func TestMurmur3Hash128(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "00000000000000000000000000000000"},
		{"hello", "cbd8a7b341bd9b025b1e906a48ae1d19"},
		{"The quick brown fox jumps over the lazy dog", "e34bbc7bbc071b6c7a433ca9c49a9347"},
	} {
		if got := hex.EncodeToString(murmur3Hash128([]byte(tc.in), 0)); got != tc.want {
			t.Errorf("murmur3(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// Every tail length goes through its own branch: the hashes differ.
	seen := map[string]bool{}
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	for n := 0; n <= len(data); n++ {
		h := hex.EncodeToString(murmur3Hash128(data[:n], murmurSeed))
		if seen[h] {
			t.Fatalf("collision at length %d", n)
		}
		seen[h] = true
	}
}

func TestSubscriptionWrappersRoundTrip(t *testing.T) {
	s := subscriptionSerde(serde.String())
	hash := murmur3Hash128([]byte("v"), murmurSeed)
	for _, w := range []subscriptionWrapper[string]{
		{hash: hash, instruction: fkPropagateOnlyIfFKVal, primaryKey: "pk", partition: 7},
		{instruction: fkDeleteAndPropagate, primaryKey: "", partition: 0},
	} {
		b, err := s.Serialize("t", w)
		if err != nil {
			t.Fatal(err)
		}
		// {hash-null bit + version 1}{instruction}...{partition}
		if b[0]&0x7f != 1 || (b[0]&0x80 != 0) != (w.hash == nil) || b[1] != byte(w.instruction) {
			t.Fatalf("header %x", b[:2])
		}
		got, err := s.Deserialize("t", b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.hash, w.hash) || got.instruction != w.instruction || got.primaryKey != w.primaryKey || got.partition != w.partition {
			t.Fatalf("round trip %+v → %+v", w, got)
		}
	}
	r := responseSerde(serde.String())
	for _, w := range []responseWrapper[string]{
		{hash: hash, value: "right", hasValue: true},
		{hash: nil},
	} {
		b, err := r.Serialize("t", w)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Deserialize("t", b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.hash, w.hash) || got.hasValue != w.hasValue || got.value != w.value {
			t.Fatalf("round trip %+v → %+v", w, got)
		}
	}
	if _, err := s.Deserialize("t", []byte{0x7f, 0}); err == nil {
		t.Fatal("accepted an unknown subscription version")
	}
}

func TestCombinedKeyPrefixScanBounds(t *testing.T) {
	p := combinedPrefix([]byte("ab"))
	if !bytes.HasPrefix(combinedKey([]byte("ab"), []byte("pk")), p) || bytes.HasPrefix(combinedKey([]byte("abc"), nil), p) {
		t.Fatal("prefix does not separate foreign keys")
	}
	if got := increment([]byte{1, 0xff}); !bytes.Equal(got, []byte{2, 0}) {
		t.Fatalf("increment %x", got)
	}
	if increment([]byte{0xff}) != nil {
		t.Fatal("increment overflow")
	}
}

// Foreign-key joins plan their two repartition topics co-partitioned
// with the table each one feeds; the tables themselves need not match.
func TestPlanForeignKeyJoinTopics(t *testing.T) {
	b := NewBuilder()
	orders := Table(b, "orders", serde.String(), serde.String())
	products := Table(b, "products", serde.String(), serde.String())
	TableForeignKeyJoin(orders, products, func(_ string, v string) string { return v },
		func(_ string, o, p string) string { return o + p }, Named("fk"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	p, err := planTopics(topo, "app", map[string]int32{"orders": 6, "products": 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.counts["app-fk-subscription-registration-topic"] != 2 || p.counts["app-fk-subscription-response-topic"] != 6 {
		t.Fatalf("counts %v", p.counts)
	}
	if p.counts["app-fk-subscription-store-changelog"] != 2 {
		t.Fatalf("subscription store changelog: %v", p.counts)
	}
}

// Stream-table and table-table joins need co-partitioned inputs: Start
// fails with ErrCopartition otherwise; a repartitioned stream takes the
// table's count.
func TestJoinCopartitioning(t *testing.T) {
	b := NewBuilder()
	s := Stream(b, "clicks", serde.String(), serde.String())
	users := Table(b, "users", serde.String(), serde.String())
	regions := Table(b, "regions", serde.String(), serde.String())
	StreamTableJoin(s, users, func(_ string, c, u string) string { return c + u })
	TableJoin(users, regions, func(_ string, u, r string) string { return u + r })
	rekeyed := SelectKey(s, func(_ string, v string) string { return v })
	StreamTableJoin(rekeyed, regions, func(_ string, c, r string) string { return c + r }, Named("by-region"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := planTopics(topo, "app", map[string]int32{"clicks": 4, "users": 3, "regions": 3}); !errors.Is(err, ErrCopartition) {
		t.Fatalf("stream-table over 4 and 3 partitions: %v", err)
	}
	if _, err := planTopics(topo, "app", map[string]int32{"clicks": 3, "users": 3, "regions": 2}); !errors.Is(err, ErrCopartition) {
		t.Fatalf("table-table over 3 and 2 partitions: %v", err)
	}
	p, err := planTopics(topo, "app", map[string]int32{"clicks": 3, "users": 3, "regions": 3})
	if err != nil {
		t.Fatal(err)
	}
	if p.counts["app-by-region-repartition"] != 3 {
		t.Fatalf("counts %v", p.counts)
	}
}
