package storage

import "testing"

// TestTruncatePastEndDropsEmptyEpoch: a node that became leader at epoch 1
// (recording it at its log end) and failed before appending keeps no
// epoch-1 entry once, as a follower, it truncates to its log end (Kafka's
// UnifiedLog.truncateTo; without it the follower's latest epoch stays 1
// and every fetch diverges again).
func TestTruncatePastEndDropsEmptyEpoch(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{Logger: quietLogger()})
	mustAppend(t, l, simpleBatch(3, 1000, 10), 0)
	leo := l.LogEndOffset()
	if err := l.AssignEpoch(1, leo); err != nil {
		t.Fatal(err)
	}
	if e, _ := l.LatestEpoch(); e != 1 {
		t.Fatalf("latest epoch %d, want 1", e)
	}
	if err := l.TruncateTo(leo); err != nil {
		t.Fatal(err)
	}
	if e, _ := l.LatestEpoch(); e != 0 {
		t.Fatalf("latest epoch after truncating to the log end: %d, want 0", e)
	}
	if l.LogEndOffset() != leo {
		t.Fatalf("log end moved: %d, want %d", l.LogEndOffset(), leo)
	}
	// The change is durable.
	l.Close()
	l = openLog(t, dir, testConfig(), Options{Logger: quietLogger(), CleanShutdown: true})
	if e, _ := l.LatestEpoch(); e != 0 {
		t.Fatalf("latest epoch after reopen: %d, want 0", e)
	}
}
