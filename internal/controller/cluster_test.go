package controller

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// TestClusterTranscripts runs the scenarios in testdata/cluster: brokers
// register and heartbeat against a clock that only moves when told, the
// Controller creates topics over the registered brokers, and every
// decision's records are committed and applied before the next command,
// as the controller's event loop will do.
func TestClusterTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/cluster/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			e := newClusterEnv(t)
			runTranscript(t, f, e.run)
		})
	}
}

type clusterEnv struct {
	t            *testing.T
	ctl          *Controller
	cluster      *Cluster
	start, now   time.Time
	incarnations map[int32]metadata.IncarnationID
}

func newClusterEnv(t *testing.T) *clusterEnv {
	ctl, err := Open(Config{NodeID: 1, NumPartitions: 1, DefaultReplicationFactor: 1}, &memJournal{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	e := &clusterEnv{t: t, ctl: ctl, start: start, now: start, incarnations: map[int32]metadata.IncarnationID{}}
	e.cluster = e.newCluster(DefaultClusterConfig())
	return e
}

func (e *clusterEnv) newCluster(cfg ClusterConfig) *Cluster {
	c, err := NewCluster(cfg, e.ctl.Image(), e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *clusterEnv) im() *metadata.Image { return e.ctl.Image() }

// commit makes recs one metadata batch, as the controller's event loop
// will, and returns them formatted against the image they changed.
func (e *clusterEnv) commit(recs []metadata.Record) string {
	e.ctl.mu.Lock()
	err := e.ctl.commitLocked(recs)
	e.ctl.mu.Unlock()
	if err != nil {
		e.t.Fatalf("commit: %v", err)
	}
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "> %s\n", formatRecord(e.im(), r))
	}
	return b.String()
}

func (e *clusterEnv) run(cmd transcriptCmd) string {
	switch cmd.name {
	case "config":
		cfg := DefaultClusterConfig()
		if v, ok := cmd.args["session"]; ok {
			cfg.SessionTimeout = e.duration(cmd, v)
		}
		if v, ok := cmd.args["interval"]; ok {
			cfg.LeaderImbalanceCheckInterval = e.duration(cmd, v)
		}
		cfg.UncleanLeaderElection = cmd.args["unclean"] == "true"
		cfg.AutoLeaderRebalance = cmd.args["rebalance"] != "false"
		cfg.ClusterID = cmd.args["cluster-id"]
		e.cluster = e.newCluster(cfg)
		return "ok"
	case "advance":
		e.now = e.now.Add(e.duration(cmd, cmd.args["by"]))
		return fmt.Sprintf("t=%v", e.now.Sub(e.start))
	case "register":
		id := e.int32(cmd, "id")
		inc, ok := e.incarnations[id]
		if !ok || cmd.has("restart") {
			inc = metadata.NewIncarnationID()
			e.incarnations[id] = inc
		}
		res := e.cluster.RegisterBroker(e.im(), e.now, BrokerRegistration{
			BrokerID: id, ClusterID: cmd.args["cluster-id"], IncarnationID: inc, Rack: cmd.args["rack"],
			Listeners: []metadata.Endpoint{{Listener: "PLAINTEXT", Host: "localhost", Port: 9090 + id}},
		})
		out := fmt.Sprintf("epoch=%d", res.Response.BrokerEpoch)
		if res.Response.Err != nil {
			out = formatErr(res.Response.Err)
		}
		return out + "\n" + e.commit(res.Records)
	case "heartbeat":
		id := e.int32(cmd, "id")
		req := BrokerHeartbeat{BrokerID: id, CurrentMetadataOffset: e.im().Offset, WantFence: cmd.has("want-fence"), WantShutDown: cmd.has("shutdown")}
		if b, ok := e.im().Broker(id); ok {
			req.BrokerEpoch = b.Epoch
		}
		if cmd.has("epoch") {
			req.BrokerEpoch = int64(e.int32(cmd, "epoch"))
		}
		if cmd.has("offset") {
			req.CurrentMetadataOffset = int64(e.int32(cmd, "offset"))
		}
		res := e.cluster.BrokerHeartbeat(e.im(), e.now, req)
		r := res.Response
		out := fmt.Sprintf("caught-up=%v fenced=%v controlled-shutdown=%v shutdown-now=%v", r.IsCaughtUp, r.IsFenced, r.InControlledShutdown, r.ShouldShutDown)
		if r.Err != nil {
			out = formatErr(r.Err)
		}
		return out + "\n" + e.commit(res.Records)
	case "tick":
		res := e.cluster.Tick(e.im(), e.now)
		r := res.Response
		out := fmt.Sprintf("fenced=%v balanced=%v", r.Fenced, r.Balanced)
		return out + "\n" + e.commit(res.Records)
	case "deadline":
		return fmt.Sprintf("next=%v", e.cluster.NextDeadline(e.im()).Sub(e.start))
	case "unregister":
		res := e.cluster.UnregisterBroker(e.im(), e.int32(cmd, "id"))
		return formatErr(res.Response) + "\n" + e.commit(res.Records)
	case "create-topic":
		ct := CreateTopic{Name: cmd.args["name"], NumPartitions: e.int32(cmd, "partitions"), ReplicationFactor: int16(e.int32(cmd, "rf"))}
		r := e.ctl.CreateTopics([]CreateTopic{ct}, false)[0]
		if r.Err != nil {
			return formatErr(r.Err)
		}
		return e.partitions(cmd.args["name"])
	case "set-config":
		res := metadata.ConfigResource{Type: metadata.ResourceBroker}
		if topic, ok := cmd.args["topic"]; ok {
			res = metadata.ConfigResource{Type: metadata.ResourceTopic, Name: topic}
		}
		var recs []metadata.Record
		for _, k := range slices.Sorted(maps.Keys(cmd.args)) {
			if v := cmd.args[k]; k != "topic" {
				recs = append(recs, metadata.Record{Type: metadata.TypeConfig, ResourceType: res.Type, ResourceName: res.Name, Name: k, Value: &v})
			}
		}
		return e.commit(recs)
	case "alter-partition":
		return e.alterPartition(cmd)
	case "elect":
		typ := ElectPreferred
		if cmd.args["type"] == "unclean" {
			typ = ElectUnclean
		}
		var tps []TopicPartitions
		if topic, ok := cmd.args["topic"]; ok {
			tps = []TopicPartitions{{Topic: topic, Partitions: e.int32s(cmd, "p")}}
		}
		res := e.cluster.ElectLeaders(e.im(), typ, tps)
		var b strings.Builder
		for _, r := range res.Response.Results {
			fmt.Fprintf(&b, "%s-%d: %s\n", r.Topic, r.Partition, formatErr(r.Err))
		}
		return b.String() + e.commit(res.Records)
	case "balance":
		res := e.cluster.BalanceLeaders(e.im())
		return fmt.Sprintf("more=%v\n", res.Response) + e.commit(res.Records)
	case "reassign":
		pr := PartitionReassignment{Topic: cmd.args["topic"], Partition: e.int32(cmd, "p")}
		if !cmd.has("cancel") {
			pr.Replicas = e.int32s(cmd, "replicas")
		}
		res := e.cluster.AlterPartitionReassignments(e.im(), ReassignmentsRequest{
			DisallowReplicationFactorChange: cmd.has("keep-rf"), Partitions: []PartitionReassignment{pr},
		})
		return formatErr(res.Response[0].Err) + "\n" + e.commit(res.Records)
	case "list-reassignments":
		var b strings.Builder
		for _, r := range e.cluster.ListPartitionReassignments(e.im(), nil) {
			fmt.Fprintf(&b, "%s-%d replicas=%v adding=%v removing=%v\n", r.Topic, r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas)
		}
		return b.String()
	case "partitions":
		return e.partitions(cmd.args["topic"])
	case "brokers":
		var b strings.Builder
		for _, br := range e.im().Brokers() {
			fmt.Fprintf(&b, "%d: epoch=%d rack=%q fenced=%v controlled-shutdown=%v\n", br.ID, br.Epoch, br.Rack, br.Fenced, br.InControlledShutdown)
		}
		return b.String()
	}
	e.t.Fatalf("%s: unknown command %q", cmd.pos, cmd.name)
	return ""
}

func (e *clusterEnv) alterPartition(cmd transcriptCmd) string {
	sender := e.int32(cmd, "id")
	t, ok := e.im().Topic(cmd.args["topic"])
	if !ok {
		e.t.Fatalf("%s: no topic %q", cmd.pos, cmd.args["topic"])
	}
	idx := e.int32(cmd, "p")
	part := t.Partitions[idx]
	data := AlterPartitionData{Partition: idx, LeaderEpoch: part.LeaderEpoch, PartitionEpoch: part.PartitionEpoch}
	if cmd.has("leader-epoch") {
		data.LeaderEpoch = e.int32(cmd, "leader-epoch")
	}
	if cmd.has("partition-epoch") {
		data.PartitionEpoch = e.int32(cmd, "partition-epoch")
	}
	for _, id := range e.int32s(cmd, "isr") {
		data.NewISR = append(data.NewISR, ISRMember{BrokerID: id, BrokerEpoch: -1})
	}
	req := AlterPartitionRequest{BrokerID: sender, Topics: []AlterPartitionTopic{{TopicID: t.ID, Partitions: []AlterPartitionData{data}}}}
	if b, ok := e.im().Broker(sender); ok {
		req.BrokerEpoch = b.Epoch
	}
	res := e.cluster.AlterPartition(e.im(), req)
	if res.Response.Err != nil {
		return formatErr(res.Response.Err) + "\n" + e.commit(res.Records)
	}
	r := res.Response.Topics[0].Partitions[0]
	out := fmt.Sprintf("%s-%d: leader=%d leaderEpoch=%d partitionEpoch=%d isr=%v", t.Name, idx, r.Leader, r.LeaderEpoch, r.PartitionEpoch, r.ISR)
	if r.Err != nil {
		out = fmt.Sprintf("%s-%d: %s", t.Name, idx, formatErr(r.Err))
	}
	return out + "\n" + e.commit(res.Records)
}

func (e *clusterEnv) partitions(topic string) string {
	var b strings.Builder
	for _, name := range e.im().TopicNames() {
		if topic != "" && name != topic {
			continue
		}
		t, _ := e.im().Topic(name)
		for i, p := range t.Partitions {
			fmt.Fprintf(&b, "%s-%d %s\n", name, i, formatPartition(p))
		}
	}
	return b.String()
}

func formatPartition(p metadata.Partition) string {
	s := fmt.Sprintf("replicas=%v isr=%v leader=%d leaderEpoch=%d partitionEpoch=%d", p.Replicas, p.ISR, p.Leader, p.LeaderEpoch, p.PartitionEpoch)
	if p.Reassigning() {
		s += fmt.Sprintf(" adding=%v removing=%v", p.AddingReplicas, p.RemovingReplicas)
	}
	return s
}

func formatRecord(after *metadata.Image, r metadata.Record) string {
	switch r.Type {
	case metadata.TypeRegisterBroker:
		return fmt.Sprintf("RegisterBroker id=%d epoch=%d rack=%q fenced=%v", r.Broker.ID, r.Broker.Epoch, r.Broker.Rack, r.Broker.Fenced)
	case metadata.TypeUnregisterBroker:
		return fmt.Sprintf("UnregisterBroker id=%d epoch=%d", r.Broker.ID, r.Broker.Epoch)
	case metadata.TypeBrokerRegistrationChange:
		var what []string
		switch r.Broker.FencingChange {
		case metadata.FencingFence:
			what = append(what, "fence")
		case metadata.FencingUnfence:
			what = append(what, "unfence")
		}
		if r.Broker.ControlledShutdownChange == metadata.ControlledShutdownEnter {
			what = append(what, "controlled-shutdown")
		}
		return fmt.Sprintf("BrokerRegistrationChange id=%d epoch=%d %s", r.Broker.ID, r.Broker.Epoch, strings.Join(what, " "))
	case metadata.TypePartitionChg:
		t, _ := after.TopicByID(r.TopicID)
		s := fmt.Sprintf("PartitionChange %s-%d leader=%d leaderEpoch=%d partitionEpoch=%d", t.Name, r.Partition, r.Leader, r.LeaderEpoch, r.PartitionEpoch)
		if r.ISR != nil {
			s += fmt.Sprintf(" isr=%v", r.ISR)
		}
		if r.Replicas != nil {
			s += fmt.Sprintf(" replicas=%v", r.Replicas)
		}
		if r.AddingReplicas != nil {
			s += fmt.Sprintf(" adding=%v", r.AddingReplicas)
		}
		if r.RemovingReplicas != nil {
			s += fmt.Sprintf(" removing=%v", r.RemovingReplicas)
		}
		return s
	case metadata.TypeConfig:
		v := "<deleted>"
		if r.Value != nil {
			v = *r.Value
		}
		return fmt.Sprintf("Config type=%d name=%q %s=%s", r.ResourceType, r.ResourceName, r.Name, v)
	}
	return fmt.Sprintf("%s %+v", r.Type, r)
}

func formatErr(err error) string {
	if err == nil {
		return "NONE"
	}
	ke := kerr.ErrorForCode(apierror.Code(err))
	s := ke.(*kerr.Error).Message
	if m := apierror.Message(err); m != nil {
		s += ": " + *m
	}
	return s
}

func (e *clusterEnv) duration(cmd transcriptCmd, v string) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil {
		e.t.Fatalf("%s: %v", cmd.pos, err)
	}
	return d
}

func (e *clusterEnv) int32(cmd transcriptCmd, key string) int32 {
	n, err := strconv.ParseInt(cmd.args[key], 10, 32)
	if err != nil {
		e.t.Fatalf("%s: %s: %v", cmd.pos, key, err)
	}
	return int32(n)
}

func (e *clusterEnv) int32s(cmd transcriptCmd, key string) []int32 {
	var out []int32
	for _, f := range strings.Split(cmd.args[key], ",") {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			e.t.Fatalf("%s: %s: %v", cmd.pos, key, err)
		}
		out = append(out, int32(n))
	}
	return out
}
