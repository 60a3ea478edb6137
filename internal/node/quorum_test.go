package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/testnet"
)

// startQuorumNodes starts n combined nodes with a controller quorum on
// pre-bound loopback ports (kafkatest.StartCluster, which this package
// cannot import, does the same for other packages).
func startQuorumNodes(t *testing.T, n int) []*Node {
	t.Helper()
	bound := map[string]net.Listener{}
	var voters []string
	brokers := make([]string, n)
	controllers := make([]string, n)
	for i := range n {
		for _, addr := range []*string{&brokers[i], &controllers[i]} {
			ln, err := testnet.Listen()
			if err != nil {
				t.Fatal(err)
			}
			*addr = ln.Addr().String()
			bound[*addr] = ln
		}
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, controllers[i]))
	}
	listen := func(network, addr string) (net.Listener, error) {
		if ln, ok := bound[addr]; ok {
			delete(bound, addr)
			return ln, nil
		}
		return testnet.Rebind(network, addr, 10*time.Second)
	}
	nodes := make([]*Node, n)
	for i := range n {
		dir := t.TempDir()
		if err := storage.FormatLogDir(dir, "test-cluster-id-000000", int32(i+1)); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.NewBroker(map[string]string{
			"node.id":                               fmt.Sprint(i + 1),
			"process.roles":                         "broker,controller",
			"listeners":                             "PLAINTEXT://" + brokers[i] + ",CONTROLLER://" + controllers[i],
			"controller.listener.names":             "CONTROLLER",
			"controller.quorum.voters":              strings.Join(voters, ","),
			"controller.quorum.election.timeout.ms": "500",
			"broker.heartbeat.interval.ms":          "250",
			"log.dirs":                              dir,
		})
		if err != nil {
			t.Fatal(err)
		}
		nd, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Listen: listen})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(); err != nil {
			nd.Close()
			t.Fatal(err)
		}
		nodes[i] = nd
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.ControlledShutdown()
		}
		for _, nd := range nodes {
			nd.Close()
		}
	})
	waitNodes(t, "every broker unfenced everywhere", func() bool {
		for _, nd := range nodes {
			for id := int32(1); id <= int32(n); id++ {
				if b, ok := nd.Image().Broker(id); !ok || b.Fenced {
					return false
				}
			}
		}
		return true
	})
	return nodes
}

func waitNodes(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestQuorumNodeControllerPaths checks the node's own ways to the active
// controller, which must work from any node: creating topics the broker
// needs (createTopics, forwarded when another node is active), the
// replica manager's AlterPartition channel, and the controller locator.
func TestQuorumNodeControllerPaths(t *testing.T) {
	nodes := startQuorumNodes(t, 3)
	active := nodes[0].ActiveController()
	if active < 1 || nodes[0].controllerLocator().ActiveController() != active {
		t.Fatalf("active controller %d", active)
	}
	for i, nd := range nodes {
		name := fmt.Sprintf("internal-%d", i+1)
		res := nd.createTopics([]controller.CreateTopic{{Name: name, NumPartitions: 2, ReplicationFactor: 3}})
		if len(res) != 1 || res[0].Err != nil || res[0].NumPartitions != 2 || res[0].ReplicationFactor != 3 || res[0].ID.IsZero() {
			t.Fatalf("node %d createTopics: %+v", i+1, res)
		}
		again := nd.createTopics([]controller.CreateTopic{{Name: name, NumPartitions: 1, ReplicationFactor: 1}})
		if apierror.Code(again[0].Err) != kerr.TopicAlreadyExists.Code {
			t.Fatalf("node %d creating %s again: %v", i+1, name, again[0].Err)
		}
	}

	// AlterPartition from the leader of internal-1-0, through a node that
	// is not the active controller: drop one follower from the ISR.
	im := nodes[0].Image()
	tp, _ := im.Topic("internal-1")
	p := tp.Partitions[0]
	leader := nodes[p.Leader-1]
	epoch, _ := leader.BrokerState()
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 3
	req.BrokerID, req.BrokerEpoch = p.Leader, epoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = tp.ID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = 0, p.LeaderEpoch, p.PartitionEpoch
	keep := []int32{p.Leader}
	for _, r := range p.ISR {
		if r != p.Leader && len(keep) < 2 {
			keep = append(keep, r)
		}
	}
	for _, r := range keep {
		m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		m.BrokerID = r
		b, _ := im.Broker(r)
		m.BrokerEpoch = b.Epoch
		rp.NewEpochISR = append(rp.NewEpochISR, m)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var resp *kmsg.AlterPartitionResponse
	waitNodes(t, "AlterPartition answered by the active controller", func() bool {
		r, err := alterPartitionSender{leader.quorum.alterPartition}.SendAlterPartition(ctx, req)
		if err != nil || r.ErrorCode == kerr.NotController.Code {
			return false
		}
		resp = r
		return true
	})
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AlterPartition: %+v", resp)
	}
	got := resp.Topics[0].Partitions[0]
	if len(got.ISR) != 2 || got.PartitionEpoch != p.PartitionEpoch+1 {
		t.Fatalf("AlterPartition result %+v, want ISR %v at partition epoch %d", got, keep, p.PartitionEpoch+1)
	}
}
