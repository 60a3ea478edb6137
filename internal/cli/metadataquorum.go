package cli

// kafka-metadata-quorum: Kafka's MetadataQuorumCommand (KIP-595, KIP-836,
// KIP-853), describing the Raft quorum of the metadata log with
// DescribeQuorum (key 55), and changing a dynamic quorum's voters with
// AddRaftVoter (80) and RemoveRaftVoter (81).
//
//	kafka-metadata-quorum (--bootstrap-server H:P | --bootstrap-controller H:P) describe --status
//	kafka-metadata-quorum (--bootstrap-server H:P | --bootstrap-controller H:P) describe --replication
//	kafka-metadata-quorum (...) --command-config controller.properties add-controller [--dry-run]
//	kafka-metadata-quorum (...) remove-controller --controller-id N --controller-directory-id D [--dry-run]
//
// add-controller reads the new controller's own configuration (the
// --command-config file, which also configures the admin client): its
// node.id, the directory id in meta.properties of its metadata log dir
// (metadata.log.dir, else the first of log.dirs), and its controller
// listeners' advertised endpoints; it prints
//
//	Added controller 4 with directory id <id> and endpoints: CONTROLLER://h:p
//
// remove-controller prints, with Kafka's doubled space,
//
//	Removed  KRaft controller 4 with directory id <id>
//
// Both go to the active controller (found with DescribeCluster through
// --bootstrap-controller) or to a broker, which forwards them, and are
// retried while the controller asked does not lead.
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

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/storage"
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
		"Property file containing configs to be passed to Admin Client. For add-controller, the file is used to specify the controller properties as well.")
	status := fs.Bool("status", "A short summary of the quorum status and the other provides detailed information about the status of replication.")
	replication := fs.Bool("replication", "Detailed information about the status of replication.")
	humanReadable := fs.Bool("human-readable", "Human-readable output (with --replication).")
	controllerID := fs.Int("controller-id", "CONTROLLER_ID", "The id of the controller to remove (remove-controller).")
	fs.Alias("i", "controller-id")
	controllerDirID := fs.String("controller-directory-id", "CONTROLLER_DIRECTORY_ID", "The directory ID of the controller to remove (remove-controller).")
	fs.Alias("d", "controller-directory-id")
	dryRun := fs.Bool("dry-run", "True if we should print what would be done, but not do it (add-controller, remove-controller).")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if len(fs.Given("bootstrap-server", "bootstrap-controller")) != 1 {
		return usagef("Only one of --bootstrap-server or --bootstrap-controller must be specified")
	}
	pos := fs.Args()
	if len(pos) == 0 {
		return usagef("too few arguments: expected one of the commands \"describe\", \"add-controller\", \"remove-controller\"")
	}
	if len(pos) > 1 {
		return usagef("unrecognized arguments: '%s'", strings.Join(pos[1:], " "))
	}
	target := quorumTarget{bootstrap: *bootstrap, viaController: fs.Changed("bootstrap-controller")}
	if target.viaController {
		target.bootstrap = *controller
	}
	switch pos[0] {
	case "describe":
		if len(fs.Given("status", "replication")) != 1 {
			return usagef("one of the arguments --status --replication is required")
		}
	case "add-controller":
		if !fs.Changed("command-config") {
			return &kafkaError{Msg: "You must supply the configuration file of the controller you are adding when using add-controller."}
		}
	case "remove-controller":
		if !fs.Changed("controller-id") {
			return usagef("argument --controller-id/-i is required")
		}
		if !fs.Changed("controller-directory-id") {
			return usagef("argument --controller-directory-id/-d is required")
		}
	default:
		return usagef("argument command: invalid choice: '%s' (choose from 'describe', 'add-controller', 'remove-controller')", pos[0])
	}
	props, err := loadClientProps(*commandConfig, "--command-config", nil)
	if err != nil {
		return err
	}
	target.props = props
	switch pos[0] {
	case "add-controller":
		return addController(ctx, env, target, props, *dryRun)
	case "remove-controller":
		return removeController(ctx, env, target, *controllerID, *controllerDirID, *dryRun)
	}
	warnUnknownProps(env.Stderr, props, roleAdmin)

	var clusterID string
	var qi *quorumInfo
	if !target.viaController {
		cl, err := newClient(target.bootstrap, props, roleAdmin)
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
		clusterID, qi, err = describeQuorumViaController(ctx, target.bootstrap, props)
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

// quorumTarget is where the voter changes go: the active controller
// among the bootstrap controllers, or a broker that forwards.
type quorumTarget struct {
	bootstrap     string
	viaController bool
	props         map[string]string
}

// voterChangeTimeout bounds add-controller and remove-controller (the
// admin client's default.api.timeout.ms); voterRequestTimeout is the
// timeout_ms sent with AddRaftVoter (request.timeout.ms).
const (
	voterChangeTimeout  = 60 * time.Second
	voterRequestTimeout = 30 * time.Second
)

// send sends req to the active controller (or a broker), retrying while
// the one asked does not lead; it returns the error code and message of
// the last answer.
func (qt quorumTarget) send(ctx context.Context, req kmsg.Request) (int16, *string, error) {
	ctx, cancel := context.WithTimeout(ctx, voterChangeTimeout)
	defer cancel()
	backoff := 100 * time.Millisecond
	for {
		code, msg, err := qt.sendOnce(ctx, req)
		retriable := err != nil || code == kerr.NotController.Code || code == kerr.NotLeaderForPartition.Code
		if !retriable {
			return code, msg, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if err != nil {
				return 0, nil, err
			}
			return code, msg, nil
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (qt quorumTarget) sendOnce(ctx context.Context, req kmsg.Request) (int16, *string, error) {
	addr := qt.bootstrap
	if qt.viaController {
		seedCl, err := newClient(qt.bootstrap, qt.props, roleAdmin)
		if err != nil {
			return 0, nil, err
		}
		var leader int32
		var addrs map[int32]string
		var lastErr error
		for _, b := range seedCl.SeedBrokers() {
			_, leader, addrs, lastErr = describeClusterVia(ctx, b.Request, 2)
			if lastErr == nil {
				break
			}
		}
		seedCl.Close()
		if lastErr != nil {
			return 0, nil, lastErr
		}
		a, ok := addrs[leader]
		if !ok {
			return 0, nil, fmt.Errorf("the controllers at %s know no active controller", qt.bootstrap)
		}
		addr = a
	}
	cl, err := newClient(addr, qt.props, roleAdmin)
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	do := cl.Request
	if qt.viaController {
		do = cl.SeedBrokers()[0].Request
	}
	r, err := do(ctx, req)
	if err != nil {
		return 0, nil, err
	}
	switch r := r.(type) {
	case *kmsg.AddRaftVoterResponse:
		return r.ErrorCode, r.ErrorMessage, nil
	case *kmsg.RemoveRaftVoterResponse:
		return r.ErrorCode, r.ErrorMessage, nil
	}
	return 0, nil, fmt.Errorf("unexpected response %T", r)
}

// newControllerError is how the tool reports a failed voter change:
// Kafka's exception class and message.
func newControllerError(code int16, msg *string) error {
	if err := newBrokerError(code, msg); err != nil {
		return &kafkaError{Msg: javaErrorString(err), Err: err}
	}
	return nil
}

// controllerToAdd is the controller add-controller reads from its
// configuration file.
type controllerToAdd struct {
	id          int32
	directoryID [16]byte
	endpoints   []kmsg.AddRaftVoterRequestListener
}

// readControllerToAdd reads node.id, the metadata dir's directory id and
// the controller endpoints from props, with Kafka's messages.
func readControllerToAdd(props map[string]string) (controllerToAdd, error) {
	var c controllerToAdd
	idStr, ok := props["node.id"]
	if !ok {
		return c, &kafkaError{Msg: "node.id not found in configuration file. Is this a valid controller configuration file?"}
	}
	id, err := strconv.ParseInt(strings.TrimSpace(idStr), 10, 32)
	if err != nil {
		return c, &kafkaError{Msg: fmt.Sprintf("For input string: \"%s\"", idStr)}
	}
	if id < 0 {
		return c, &kafkaError{Msg: "node.id was negative in configuration file. Is this a valid controller configuration file?"}
	}
	if !strings.Contains(props["process.roles"], "controller") {
		return c, &kafkaError{Msg: "process.roles did not contain 'controller' in configuration file. Is this a valid controller configuration file?"}
	}
	c.id = int32(id)

	dir := props["metadata.log.dir"]
	if _, ok := props["metadata.log.dir"]; !ok {
		if logDirs, ok := props["log.dirs"]; ok {
			dir = strings.Split(strings.TrimSpace(logDirs), ",")[0]
		} else {
			return c, &kafkaError{Msg: "Neither metadata.log.dir nor log.dirs were found. Is this a valid controller configuration file?"}
		}
	}
	m, err := storage.ReadMetaProperties(dir)
	if err != nil {
		return c, &kafkaError{Msg: "Unable to read meta.properties from " + dir, Err: err}
	}
	if m.DirectoryID == "" {
		return c, &kafkaError{Msg: "No directory id found in " + dir}
	}
	if c.directoryID, err = parseKafkaUUID(m.DirectoryID); err != nil {
		return c, err
	}

	endpoints := map[string]kmsg.AddRaftVoterRequestListener{}
	for _, key := range []string{"listeners", "advertised.listeners"} {
		for _, l := range strings.Split(props[key], ",") {
			if l = strings.TrimSpace(l); l == "" {
				continue
			}
			name, hostPort, ok := strings.Cut(l, "://")
			if !ok {
				return c, &kafkaError{Msg: "Unable to parse " + l + " to a broker endpoint"}
			}
			host, port, err := net.SplitHostPort(hostPort)
			p, perr := strconv.ParseUint(port, 10, 16)
			if err != nil || perr != nil {
				return c, &kafkaError{Msg: "Unable to parse " + l + " to a broker endpoint"}
			}
			e := kmsg.NewAddRaftVoterRequestListener()
			e.Name, e.Host, e.Port = strings.ToUpper(name), host, uint16(p)
			endpoints[e.Name] = e
		}
	}
	names, ok := props["controller.listener.names"]
	if !ok {
		return c, &kafkaError{Msg: "controller.listener.names was not found. Is this a valid controller configuration file?"}
	}
	for _, name := range strings.Split(names, ",") {
		name = strings.ToUpper(strings.TrimSpace(name))
		e, ok := endpoints[name]
		if !ok {
			return c, &kafkaError{Msg: "Cannot find information about controller listener name: " + name}
		}
		if e.Host == "" {
			e.Host = "localhost"
		}
		c.endpoints = append(c.endpoints, e)
	}
	return c, nil
}

// addController is kafka-metadata-quorum add-controller.
func addController(ctx context.Context, env *Env, target quorumTarget, props map[string]string, dryRun bool) error {
	c, err := readControllerToAdd(props)
	if err != nil {
		return err
	}
	if !dryRun {
		req := kmsg.NewPtrAddRaftVoterRequest()
		req.TimeoutMillis = int32(voterRequestTimeout / time.Millisecond)
		req.VoterID, req.VoterDirectoryID, req.Listeners = c.id, c.directoryID, c.endpoints
		code, msg, err := target.send(ctx, req)
		if err != nil {
			return err
		}
		if err := newControllerError(code, msg); err != nil {
			return err
		}
	}
	var eps []string
	for _, e := range c.endpoints {
		eps = append(eps, e.Name+"://"+net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))))
	}
	verb := "Added"
	if dryRun {
		verb = "DRY RUN of adding"
	}
	fmt.Fprintf(env.Stdout, "%s controller %d with directory id %s and endpoints: %s\n",
		verb, c.id, formatKafkaUUID(c.directoryID), strings.Join(eps, ", "))
	return nil
}

// removeController is kafka-metadata-quorum remove-controller.
func removeController(ctx context.Context, env *Env, target quorumTarget, id int64, dirStr string, dryRun bool) error {
	if id < 0 {
		return &kafkaError{Msg: fmt.Sprintf("Invalid negative --controller-id: %d", id)}
	}
	dir, err := parseKafkaUUID(dirStr)
	if err != nil {
		return &kafkaError{Msg: "Failed to parse --controller-directory-id: " + err.Error()}
	}
	if !dryRun {
		req := kmsg.NewPtrRemoveRaftVoterRequest()
		req.VoterID, req.VoterDirectoryID = int32(id), dir
		code, msg, err := target.send(ctx, req)
		if err != nil {
			return err
		}
		if err := newControllerError(code, msg); err != nil {
			return err
		}
	}
	verb := "Removed "
	if dryRun {
		verb = "DRY RUN of removing "
	}
	fmt.Fprintf(env.Stdout, "%s KRaft controller %d with directory id %s\n", verb, id, formatKafkaUUID(dir))
	return nil
}
