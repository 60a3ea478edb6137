package node

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/testnet"
)

// TestSampleControllerAndBroker runs config/controller.properties and
// config/broker.properties together, as the samples say (on free ports
// and temporary dirs): the controller-only node serves no broker
// listener and registers no broker; the broker-only node catches up with
// the metadata log, registers, is unfenced, and creates a topic through
// the controller.
func TestSampleControllerAndBroker(t *testing.T) {
	ctlLn, err := testnet.Listen()
	if err != nil {
		t.Fatal(err)
	}
	brkLn, err := testnet.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctlAddr, brkAddr := ctlLn.Addr().String(), brkLn.Addr().String()
	voters := "1@" + ctlAddr
	load := func(name string, overrides map[string]string, ln net.Listener) *Node {
		t.Helper()
		dir := t.TempDir()
		overrides["log.dirs"] = dir
		overrides["controller.quorum.voters"] = voters
		cfg, err := config.Load(filepath.Join("..", "..", "config", name), overrides)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.FormatLogDir(dir, "sample-cluster-id-0000", cfg.NodeID); err != nil {
			t.Fatal(err)
		}
		n, err := New(cfg, Options{Listen: func(network, addr string) (net.Listener, error) {
			if ln != nil {
				l := ln
				ln = nil
				return l, nil
			}
			return testnet.Rebind(network, addr, 10*time.Second)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			n.Close()
			t.Fatal(err)
		}
		return n
	}
	ctl := load("controller.properties", map[string]string{
		"listeners": "CONTROLLER://" + ctlAddr, "advertised.listeners": "CONTROLLER://" + ctlAddr,
	}, ctlLn)
	defer ctl.Close()
	brk := load("broker.properties", map[string]string{
		"listeners": "PLAINTEXT://" + brkAddr, "advertised.listeners": "PLAINTEXT://" + brkAddr,
		"broker.heartbeat.interval.ms": "100",
	}, brkLn)
	defer brk.Close()

	if len(ctl.Addrs()) != 0 || ctl.ControllerAddr() == nil {
		t.Fatalf("controller-only node: broker listeners %v, controller listener %v", ctl.Addrs(), ctl.ControllerAddr())
	}
	if brk.ControllerAddr() != nil {
		t.Fatalf("broker-only node has a controller listener %v", brk.ControllerAddr())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, ok := ctl.Image().Broker(2)
		if ok && !b.Fenced && brk.ActiveController() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker 2 not registered and unfenced: %+v", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := ctl.Image().Broker(1); ok {
		t.Fatal("the controller-only node registered as a broker")
	}

	// A topic created through the broker (forwarded to the controller)
	// reaches the broker's image through its fetcher.
	nc, err := net.DialTimeout("tcp", brkAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "roles-test", 0)
	defer c.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "sample", 2, 1
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic: error %d", code)
	}
	for {
		if tp, ok := brk.Image().Topic("sample"); ok && len(tp.Partitions) == 2 && tp.Partitions[0].Leader == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the broker's image lacks the topic")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, ok := brk.ObserverStatus(); !ok || st.Leader != 1 || st.FetchOffset <= 0 {
		t.Fatalf("observer status %+v", st)
	}
	if _, ok := ctl.ObserverStatus(); ok {
		t.Fatal("a voter has an observer status")
	}
}

// TestBrokerOnlyRefusesVoterID: a broker-only node whose id is a voter's
// would be two nodes in one; it does not start.
func TestBrokerOnlyRefusesVoterID(t *testing.T) {
	dir := t.TempDir()
	if err := storage.FormatLogDir(dir, "sample-cluster-id-0000", 1); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.NewBroker(map[string]string{
		"node.id": "1", "process.roles": "broker", "listeners": "PLAINTEXT://127.0.0.1:0",
		"controller.listener.names": "CONTROLLER", "controller.quorum.voters": "1@127.0.0.1:1", "log.dirs": dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "controller.quorum.voters") {
		t.Fatalf("New: %v", err)
	}
}
