package storage

import (
	"fmt"
	"testing"
)

// Cases follow Kafka's LeaderEpochFileCacheTest.
func TestEpochCacheAssign(t *testing.T) {
	for _, c := range []struct {
		name    string
		assigns []EpochEntry
		want    string
	}{
		{"append", []EpochEntry{{2, 6}, {3, 9}}, "[{2 6} {3 9}]"},
		{"same epoch later offset ignored", []EpochEntry{{2, 6}, {2, 10}}, "[{2 6}]"},
		{"same epoch earlier offset replaces", []EpochEntry{{2, 6}, {2, 4}}, "[{2 4}]"},
		{"lower epoch truncates higher", []EpochEntry{{2, 6}, {3, 8}, {1, 9}}, "[{1 9}]"},
		{"higher epoch at lower offset truncates", []EpochEntry{{2, 6}, {3, 8}, {4, 7}}, "[{2 6} {4 7}]"},
		{"equal offset replaces", []EpochEntry{{2, 6}, {3, 6}}, "[{3 6}]"},
	} {
		var ec epochCache
		for _, a := range c.assigns {
			ec.assign(a.Epoch, a.StartOffset)
		}
		if got := fmt.Sprint(ec.entries); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestEpochCacheEndOffsetFor(t *testing.T) {
	ec := epochCache{entries: []EpochEntry{{1, 5}, {3, 8}, {5, 12}}}
	const leo = 20
	for _, c := range []struct {
		req       int32
		wantEpoch int32
		wantEnd   int64
	}{
		{-1, -1, -1}, // undefined epoch
		{0, 0, 5},    // below every known epoch: start of the first
		{1, 1, 8},
		{2, 1, 8}, // unknown epoch between known ones: the one below
		{3, 3, 12},
		{4, 3, 12},
		{5, 5, leo}, // latest: the log end offset
		{6, -1, -1}, // above every known epoch
	} {
		e, end := ec.endOffsetFor(c.req, leo)
		if e != c.wantEpoch || end != c.wantEnd {
			t.Errorf("endOffsetFor(%d) = %d, %d; want %d, %d", c.req, e, end, c.wantEpoch, c.wantEnd)
		}
	}
	var empty epochCache
	if e, end := empty.endOffsetFor(0, leo); e != -1 || end != -1 {
		t.Errorf("empty cache: %d, %d", e, end)
	}
}

func TestEpochCacheTruncation(t *testing.T) {
	base := []EpochEntry{{1, 5}, {3, 8}, {5, 12}}
	for _, c := range []struct {
		name    string
		fn      func(*epochCache) bool
		want    string
		changed bool
	}{
		{"end past all", func(e *epochCache) bool { return e.truncateFromEnd(13) }, "[{1 5} {3 8} {5 12}]", false},
		{"end at an entry", func(e *epochCache) bool { return e.truncateFromEnd(12) }, "[{1 5} {3 8}]", true},
		{"end inside", func(e *epochCache) bool { return e.truncateFromEnd(9) }, "[{1 5} {3 8}]", true},
		{"end before all", func(e *epochCache) bool { return e.truncateFromEnd(0) }, "[]", true},
		{"start before all", func(e *epochCache) bool { return e.truncateFromStart(2) }, "[{1 5} {3 8} {5 12}]", false},
		{"start at first", func(e *epochCache) bool { return e.truncateFromStart(5) }, "[{1 5} {3 8} {5 12}]", false},
		{"start inside", func(e *epochCache) bool { return e.truncateFromStart(9) }, "[{3 9} {5 12}]", true},
		{"start at entry", func(e *epochCache) bool { return e.truncateFromStart(12) }, "[{5 12}]", true},
		{"start past all", func(e *epochCache) bool { return e.truncateFromStart(30) }, "[{5 30}]", true},
	} {
		ec := epochCache{entries: append([]EpochEntry(nil), base...)}
		changed := c.fn(&ec)
		if got := fmt.Sprint(ec.entries); got != c.want || changed != c.changed {
			t.Errorf("%s: %s (changed %v), want %s (changed %v)", c.name, got, changed, c.want, c.changed)
		}
	}
}

func TestEpochCacheEpochForOffset(t *testing.T) {
	ec := epochCache{entries: []EpochEntry{{1, 5}, {3, 8}, {5, 12}}}
	for _, c := range []struct {
		off  int64
		want int32
		ok   bool
	}{{4, -1, false}, {5, 1, true}, {7, 1, true}, {8, 3, true}, {11, 3, true}, {12, 5, true}, {100, 5, true}} {
		e, ok := ec.epochForOffset(c.off)
		if e != c.want || ok != c.ok {
			t.Errorf("epochForOffset(%d) = %d, %v; want %d, %v", c.off, e, ok, c.want, c.ok)
		}
	}
}
