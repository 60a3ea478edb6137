package controller

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

func wantCode(t *testing.T, what string, err error, code *kerr.Error, msg string) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code.Message)
	}
	if m := apierror.Message(err); msg != "" && (m == nil || !strings.Contains(*m, msg)) {
		t.Fatalf("%s: message %v, want it to contain %q", what, m, msg)
	}
}

// A static quorum answers voter changes as Kafka does at kraft.version 0.
func TestRaftVoterChangesOnStaticQuorum(t *testing.T) {
	c := openSingleVoter(t)
	ctx := context.Background()
	wantCode(t, "add", c.AddRaftVoter(ctx, Voter{ID: 2, Addr: "h:1"}), kerr.UnsupportedVersion,
		"Cluster doesn't support adding voter because the kraft.version feature is 0")
	wantCode(t, "remove", c.RemoveRaftVoter(ctx, 1, [16]byte{}), kerr.UnsupportedVersion,
		"Cluster doesn't support removing voter because the kraft.version feature is 0")
	if qs, _ := c.QuorumStatus(); qs.Dynamic || len(qs.Voters) != 1 || qs.Voters[0].Addr == "" {
		t.Fatalf("static quorum status %+v", qs)
	}
}

// A dynamic quorum of one (format --standalone): the errors of the
// KIP-853 handlers, and a learner that cannot catch up timing out.
func TestRaftVoterChangesOnDynamicQuorum(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "__cluster_metadata-0")
	dirID := uuid.New()
	self := raft.Member{ID: 1, DirectoryID: dirID, Listener: "CONTROLLER", Addr: ln.Addr().String(), Voter: true}
	if err := raft.Bootstrap(dir, 1, []raft.Member{self}); err != nil {
		t.Fatal(err)
	}
	c, err := OpenQuorum(Config{NodeID: 1, NumPartitions: 1, DefaultReplicationFactor: 1}, QuorumConfig{
		Raft: raft.Config{
			NodeID: 1, Dynamic: true, ListenAddr: ln.Addr().String(), Dir: dir,
			Listen: func(string, string) (net.Listener, error) { return ln, nil },
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	waitUntil(t, "the standalone voter to lead", func() bool { id, _ := c.ActiveController(); return id == 1 })
	if v := c.QuorumVoters(); len(v) != 1 || v[1] != ln.Addr().String() {
		t.Fatalf("voters %v", v)
	}
	qs, _ := c.QuorumStatus()
	if !qs.Dynamic || len(qs.Voters) != 1 || qs.Voters[0].DirectoryID != dirID || qs.Voters[0].Listener != "CONTROLLER" {
		t.Fatalf("quorum status %+v", qs)
	}

	ctx := context.Background()
	wantCode(t, "add self", c.AddRaftVoter(ctx, Voter{ID: 1, DirectoryID: dirID, Listener: "CONTROLLER", Addr: "h:1"}),
		kerr.DuplicateVoter, "The voter id for ReplicaKey(id=1, directoryId="+uuid.Format(dirID)+") is already part of the set of voters")
	wantCode(t, "remove unknown", c.RemoveRaftVoter(ctx, 7, [16]byte{7}), kerr.VoterNotFound, "Cannot remove voter ReplicaKey(id=7")
	wantCode(t, "remove with another directory id", c.RemoveRaftVoter(ctx, 1, [16]byte{7}), kerr.VoterNotFound, "")
	wantCode(t, "remove the last voter", c.RemoveRaftVoter(ctx, 1, dirID), kerr.InvalidRequest, "")
	wantCode(t, "add without endpoint", c.AddRaftVoter(ctx, Voter{ID: 2}), kerr.InvalidRequest, "")

	// Controller 2 never starts: it stays a learner (listed with the
	// observers) and the add times out, as Kafka's REQUEST_TIMED_OUT.
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	d2 := [16]byte{2}
	wantCode(t, "add an absent controller", c.AddRaftVoter(tctx, Voter{ID: 2, DirectoryID: d2, Listener: "CONTROLLER", Addr: "127.0.0.1:1"}), kerr.RequestTimedOut, "")
	qs, _ = c.QuorumStatus()
	if len(qs.Voters) != 1 || len(qs.Observers) != 1 || qs.Observers[0].ID != 2 || qs.Observers[0].DirectoryID != d2 {
		t.Fatalf("after the timed-out add: %+v", qs)
	}
	// The stranded learner can be removed.
	if err := c.RemoveRaftVoter(ctx, 2, d2); err != nil {
		t.Fatalf("remove the learner: %v", err)
	}
	if qs, _ = c.QuorumStatus(); len(qs.Observers) != 0 {
		t.Fatalf("after removing the learner: %+v", qs)
	}
}
