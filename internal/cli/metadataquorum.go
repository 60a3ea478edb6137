package cli

// kafka-metadata-quorum: Kafka's MetadataQuorumCommand (KIP-595, KIP-836,
// KIP-853), describing the Raft quorum of the metadata log with
// DescribeQuorum (key 55).
//
//	kafka-metadata-quorum (--bootstrap-server H:P | --bootstrap-controller H:P) describe --status
//	kafka-metadata-quorum (--bootstrap-server H:P | --bootstrap-controller H:P) describe --replication
//
// With --bootstrap-server the request goes to a broker, which forwards it
// to the active controller. With --bootstrap-controller the tool asks the
// given controller for the quorum (DescribeCluster, endpoint type 2) and
// sends DescribeQuorum to the active controller itself, since only the
// Raft leader knows the voters' progress.
//
// --status prints, as Kafka does:
//
//	ClusterId:              <id>
//	LeaderId:               1
//	LeaderEpoch:            3
//	HighWatermark:          120
//	MaxFollowerLag:         0
//	MaxFollowerLagTimeMs:   0
//	CurrentVoters:          [{"id": 1, "directoryId": "...", "endpoints": ["CONTROLLER://h:p"]}, ...]
//	CurrentObservers:       [{"id": 4, "directoryId": "..."}]
//
// --replication prints a table, leader first, then the other voters, then
// the observers:
//
//	NodeId	DirectoryId           	LogEndOffset	Lag	LastFetchTimestamp	LastCaughtUpTimestamp	Status
//	1     	AAAAAAAAAAAAAAAAAAAAAA	120         	0  	1700000000000     	1700000000000        	Leader
//
// (every cell padded and followed by a tab, as Kafka's prettyPrintTable;
// --human-readable shows "N ms ago" instead of the timestamps). A zero
// directory id and missing endpoints are left out of --status, as Kafka
// does.

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-metadata-quorum",
		Summary: "Describe the metadata quorum (kafka-metadata-quorum.sh).",
		Run:     runMetadataQuorum,
	})
}

// quorumReplica is one voter or observer as the tool prints it.
type quorumReplica struct {
	id           int32
	directoryID  [16]byte
	logEndOffset int64
	lastFetch    int64 // ms, -1 unknown
	lastCaughtUp int64 // ms, -1 unknown
	endpoints    []string
}

// quorumInfo is the answer of DescribeQuorum for __cluster_metadata-0.
type quorumInfo struct {
	leaderID      int32
	leaderEpoch   int32
	highWatermark int64
	voters        []quorumReplica
	observers     []quorumReplica
}

func runMetadataQuorum(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-metadata-quorum", "This tool describes kraft metadata quorum status.")
	bootstrap := fs.String("bootstrap-server", "String: server to connect to",
		"A comma-separated list of host:port pairs to use for establishing the connection to the Kafka cluster.")
	controller := fs.String("bootstrap-controller", "String: controller to connect to",
		"A comma-separated list of host:port pairs to use for establishing the connection to the Kafka controllers.")
	commandConfig := fs.String("command-config", "String: command config property file",
		"Property file containing configs to be passed to Admin Client.")
	status := fs.Bool("status", "A short summary of the quorum status and the other provides detailed information about the status of replication.")
	replication := fs.Bool("replication", "Detailed information about the status of replication.")
	humanReadable := fs.Bool("human-readable", "Human-readable output (with --replication).")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if len(fs.Given("bootstrap-server", "bootstrap-controller")) != 1 {
		return usagef("Only one of --bootstrap-server or --bootstrap-controller must be specified")
	}
	pos := fs.Args()
	if len(pos) == 0 || pos[0] != "describe" {
		return usagef("too few arguments: expected the command \"describe\"")
	}
	if len(pos) > 1 {
		return usagef("unrecognized arguments: '%s'", strings.Join(pos[1:], " "))
	}
	if len(fs.Given("status", "replication")) != 1 {
		return usagef("one of the arguments --status --replication is required")
	}
	props, err := loadClientProps(*commandConfig, "--command-config", nil)
	if err != nil {
		return err
	}
	warnUnknownProps(env.Stderr, props, roleAdmin)

	var clusterID string
	var qi *quorumInfo
	if fs.Changed("bootstrap-server") {
		cl, err := newClient(*bootstrap, props, roleAdmin)
		if err != nil {
			return err
		}
		defer cl.Close()
		if clusterID, _, _, err = describeClusterVia(ctx, cl.Request, 0); err != nil {
			return err
		}
		if qi, err = describeQuorumVia(ctx, cl.Request); err != nil {
			return err
		}
	} else {
		clusterID, qi, err = describeQuorumViaController(ctx, *controller, props)
		if err != nil {
			return err
		}
	}
	if *status {
		printQuorumStatus(env.Stdout, clusterID, qi)
	} else if *replication {
		printQuorumReplication(env.Stdout, qi, *humanReadable, time.Now().UnixMilli())
	}
	return nil
}

type requestFunc func(context.Context, kmsg.Request) (kmsg.Response, error)

// describeClusterVia sends DescribeCluster with endpointType (0 for the
// request's default, 2 for controllers) and returns the cluster id, the
// controller id and the listed nodes' addresses by id.
func describeClusterVia(ctx context.Context, do requestFunc, endpointType int8) (string, int32, map[int32]string, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	if endpointType != 0 {
		req.EndpointType = endpointType
	}
	r, err := do(ctx, req)
	if err != nil {
		return "", 0, nil, err
	}
	resp := r.(*kmsg.DescribeClusterResponse)
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return "", 0, nil, err
	}
	addrs := map[int32]string{}
	for _, b := range resp.Brokers {
		addrs[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	return resp.ClusterID, resp.ControllerID, addrs, nil
}

// describeQuorumVia sends DescribeQuorum for __cluster_metadata-0.
func describeQuorumVia(ctx context.Context, do requestFunc) (*quorumInfo, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := do(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.DescribeQuorumResponse)
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("DescribeQuorum answered %d topics, want one partition of __cluster_metadata", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := newBrokerError(p.ErrorCode, p.ErrorMessage); err != nil {
		return nil, err
	}
	endpoints := map[int32][]string{}
	for _, n := range resp.Nodes {
		for _, l := range n.Listeners {
			endpoints[n.NodeID] = append(endpoints[n.NodeID],
				l.Name+"://"+net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))))
		}
	}
	conv := func(rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) []quorumReplica {
		out := make([]quorumReplica, 0, len(rs))
		for _, r := range rs {
			out = append(out, quorumReplica{
				id: r.ReplicaID, directoryID: r.ReplicaDirectoryID, logEndOffset: r.LogEndOffset,
				lastFetch: r.LastFetchTimestamp, lastCaughtUp: r.LastCaughtUpTimestamp,
				endpoints: endpoints[r.ReplicaID],
			})
		}
		return out
	}
	return &quorumInfo{
		leaderID: p.LeaderID, leaderEpoch: p.LeaderEpoch, highWatermark: p.HighWatermark,
		voters: conv(p.CurrentVoters), observers: conv(p.Observers),
	}, nil
}

// describeQuorumViaController asks the controllers at bootstrap which one
// is active and sends DescribeQuorum to it.
func describeQuorumViaController(ctx context.Context, bootstrap string, props map[string]string) (string, *quorumInfo, error) {
	seedCl, err := newClient(bootstrap, props, roleAdmin)
	if err != nil {
		return "", nil, err
	}
	defer seedCl.Close()
	var clusterID string
	var leader int32
	var addrs map[int32]string
	var lastErr error
	for _, b := range seedCl.SeedBrokers() {
		clusterID, leader, addrs, lastErr = describeClusterVia(ctx, b.Request, 2)
		if lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		return "", nil, lastErr
	}
	addr, ok := addrs[leader]
	if !ok {
		return "", nil, fmt.Errorf("the controllers at %s know no active controller", bootstrap)
	}
	cl, err := newClient(addr, props, roleAdmin)
	if err != nil {
		return "", nil, err
	}
	defer cl.Close()
	qi, err := describeQuorumVia(ctx, cl.SeedBrokers()[0].Request)
	return clusterID, qi, err
}

// quorumLeader returns the leader's replica state, or ok false when the
// leader is not among the voters.
func (qi *quorumInfo) quorumLeader() (quorumReplica, bool) {
	for _, v := range qi.voters {
		if v.id == qi.leaderID {
			return v, true
		}
	}
	return quorumReplica{}, false
}

func printQuorumStatus(w io.Writer, clusterID string, qi *quorumInfo) {
	leader, _ := qi.quorumLeader()
	// The first voter with the smallest log end offset; its lag in time
	// is how much earlier it last caught up than the leader.
	maxLag := leader
	for i, v := range qi.voters {
		if i == 0 || v.logEndOffset < maxLag.logEndOffset {
			maxLag = v
		}
	}
	lagTime := int64(0)
	switch {
	case maxLag.id == leader.id:
	case leader.lastCaughtUp >= 0 && maxLag.lastCaughtUp >= 0:
		lagTime = leader.lastCaughtUp - maxLag.lastCaughtUp
	default:
		lagTime = -1
	}
	fmt.Fprintf(w, "ClusterId:              %s\n", clusterID)
	fmt.Fprintf(w, "LeaderId:               %d\n", qi.leaderID)
	fmt.Fprintf(w, "LeaderEpoch:            %d\n", qi.leaderEpoch)
	fmt.Fprintf(w, "HighWatermark:          %d\n", qi.highWatermark)
	fmt.Fprintf(w, "MaxFollowerLag:         %d\n", leader.logEndOffset-maxLag.logEndOffset)
	fmt.Fprintf(w, "MaxFollowerLagTimeMs:   %d\n", lagTime)
	fmt.Fprintf(w, "CurrentVoters:          %s\n", formatQuorumReplicas(qi.voters))
	fmt.Fprintf(w, "CurrentObservers:       %s\n", formatQuorumReplicas(qi.observers))
}

// formatQuorumReplicas prints replicas as Kafka's tool does:
// [{"id": 1, "directoryId": "…", "endpoints": ["CONTROLLER://h:p"]}],
// leaving out a zero directory id and an empty endpoint list.
func formatQuorumReplicas(rs []quorumReplica) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		s := fmt.Sprintf(`{"id": %d`, r.id)
		if r.directoryID != ([16]byte{}) {
			s += `, "directoryId": "` + formatKafkaUUID(r.directoryID) + `"`
		}
		if len(r.endpoints) > 0 {
			eps := make([]string, 0, len(r.endpoints))
			for _, e := range r.endpoints {
				eps = append(eps, `"`+e+`"`)
			}
			s += `, "endpoints": [` + strings.Join(eps, ", ") + `]`
		}
		parts = append(parts, s+"}")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// printQuorumReplication prints the replication table; humanReadable
// shows the timestamps as "N ms ago" relative to now (milliseconds).
func printQuorumReplication(w io.Writer, qi *quorumInfo, humanReadable bool, now int64) {
	leader, _ := qi.quorumLeader()
	ts := func(ms int64) string {
		switch {
		case ms < 0:
			return "-1"
		case humanReadable:
			return fmt.Sprintf("%d ms ago", max(0, now-ms))
		}
		return strconv.FormatInt(ms, 10)
	}
	row := func(r quorumReplica, status string) []string {
		return []string{
			strconv.Itoa(int(r.id)), formatKafkaUUID(r.directoryID), strconv.FormatInt(r.logEndOffset, 10),
			strconv.FormatInt(leader.logEndOffset-r.logEndOffset, 10),
			ts(r.lastFetch), ts(r.lastCaughtUp), status,
		}
	}
	rows := [][]string{{"NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status"}}
	if leader.id == qi.leaderID && len(qi.voters) > 0 {
		rows = append(rows, row(leader, "Leader"))
	}
	for _, v := range qi.voters {
		if v.id != qi.leaderID {
			rows = append(rows, row(v, "Follower"))
		}
	}
	for _, o := range qi.observers {
		rows = append(rows, row(o, "Observer"))
	}
	printQuorumTable(w, rows)
}

// printQuorumTable prints rows as Kafka's ToolsUtils.prettyPrintTable:
// every cell, the last included, padded to its column's widest cell and
// followed by a tab.
func printQuorumTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		var sb strings.Builder
		for i, c := range r {
			fmt.Fprintf(&sb, "%-*s\t", widths[i], c)
		}
		fmt.Fprintln(w, sb.String())
	}
}
