package node

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// config.SingleNode tells a dynamic quorum's metadata dir by internal/raft's
// file names, which it cannot import: they must agree.
func TestDynamicQuorumFileNames(t *testing.T) {
	if config.MetadataLogDirName != metadataDirName {
		t.Fatalf("config says %q, node %q", config.MetadataLogDirName, metadataDirName)
	}
	dir := filepath.Join(t.TempDir(), config.MetadataLogDirName)
	if err := raft.Bootstrap(dir, 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, config.RaftWALName)); err != nil {
		t.Fatalf("raft.Bootstrap wrote no %s: %v", config.RaftWALName, err)
	}
}

// The quickstart layout (config/server.properties: a combined node whose
// controller.quorum.bootstrap.servers names only itself) formatted
// --standalone is a one-voter dynamic quorum: its controller listener
// serves, its broker registers with itself over it, and it takes writes.
func TestStandaloneQuickstartIsDynamicQuorum(t *testing.T) {
	brkLn, err := testnet.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctlLn, err := testnet.Listen()
	if err != nil {
		t.Fatal(err)
	}
	brkAddr, ctlAddr := brkLn.Addr().String(), ctlLn.Addr().String()
	dir := t.TempDir()
	cfg, err := config.Load(filepath.Join("..", "..", "config", "server.properties"), map[string]string{
		"log.dirs":                            dir,
		"listeners":                           "PLAINTEXT://" + brkAddr + ",CONTROLLER://" + ctlAddr,
		"advertised.listeners":                "PLAINTEXT://" + brkAddr + ",CONTROLLER://" + ctlAddr,
		"controller.quorum.bootstrap.servers": ctlAddr,
		"broker.heartbeat.interval.ms":        "100",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SingleNode() {
		t.Fatal("unformatted quickstart config is not a single node")
	}
	// kafka-storage format --standalone, as internal/cli does it.
	dirID := uuid.New()
	self := raft.Member{ID: 1, DirectoryID: dirID, Listener: "CONTROLLER", Addr: ctlAddr, Voter: true}
	if err := raft.Bootstrap(filepath.Join(dir, config.MetadataLogDirName), 1, []raft.Member{self}); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteMetaProperties(dir, storage.MetaProperties{Version: 1, ClusterID: "quickstart-cluster-id-0", NodeID: 1, DirectoryID: uuid.Format(dirID)}); err != nil {
		t.Fatal(err)
	}
	if cfg.SingleNode() {
		t.Fatal("a quickstart config formatted --standalone is still a single node")
	}
	lns := map[string]net.Listener{brkAddr: brkLn, ctlAddr: ctlLn}
	n, err := New(cfg, Options{Listen: func(network, addr string) (net.Listener, error) {
		if ln, ok := lns[addr]; ok {
			delete(lns, addr)
			return ln, nil
		}
		return testnet.Rebind(network, addr, 10*time.Second)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	qs, ok := n.QuorumStatus()
	if !ok || !qs.Dynamic {
		t.Fatalf("quorum status %+v, %v", qs, ok)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		qs, _ = n.QuorumStatus()
		b, registered := n.Image().Broker(1)
		if qs.IsLeader && len(qs.Voters) == 1 && qs.Voters[0].DirectoryID == dirID && registered && !b.Fenced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quorum %+v, broker registered %v", qs, registered)
		}
		time.Sleep(10 * time.Millisecond)
	}
	nc, err := net.Dial("tcp", brkAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn := replica.NewConn(nc, "test", 0)
	defer conn.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "quickstart-events", 1, 1
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic: error %d", code)
	}
}

// A dynamic quorum's channels name fixed slots; the directory maps the
// active controller to a stable slot and a slot to its endpoint, or to a
// bootstrap server while unassigned.
func TestControllerDirectory(t *testing.T) {
	d := newControllerDirectory([]string{"b1:1", "b2:2"})
	voters := d.voters()
	if len(voters) != controllerSlots {
		t.Fatalf("%d slots", len(voters))
	}
	if s := d.slot(-1); s != -1 {
		t.Fatalf("slot of no leader: %d", s)
	}
	if s := d.slot(5); s != -1 {
		t.Fatalf("slot of a controller without an endpoint: %d", s)
	}
	// Unassigned slots walk the bootstrap servers.
	if a, b := d.resolve(voters[-2]), d.resolve(voters[-3]); a != "b1:1" || b != "b2:2" {
		t.Fatalf("unassigned slots resolve to %q, %q", a, b)
	}
	d.setAddrs(map[int32]string{5: "c5:9093", 7: "c7:9093", -4: "ignored"})
	s5, s7 := d.slot(5), d.slot(7)
	if s5 >= -1 || s7 >= -1 || s5 == s7 || d.slot(5) != s5 {
		t.Fatalf("slots %d, %d", s5, s7)
	}
	if got := d.resolve(voters[s5]); got != "c5:9093" {
		t.Fatalf("slot %d resolves to %q", s5, got)
	}
	d.setAddrs(map[int32]string{5: "moved:9093"}) // UpdateRaftVoter
	if got := d.resolve(voters[s5]); got != "moved:9093" || d.slot(5) != s5 {
		t.Fatalf("after the move: %q, slot %d", got, d.slot(5))
	}
	if got := d.resolve("h:1"); got != "h:1" {
		t.Fatalf("a plain address resolves to %q", got)
	}
}
