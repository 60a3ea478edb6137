package cli

// kafka-reassign-partitions: Kafka's ReassignPartitionsCommand, moving
// partition replicas between brokers with AlterPartitionReassignments
// (key 45) and following them with ListPartitionReassignments (key 46).
//
//	kafka-reassign-partitions --bootstrap-server H:P --generate --topics-to-move-json-file F --broker-list 1,2,3
//	kafka-reassign-partitions --bootstrap-server H:P --execute  --reassignment-json-file F [--additional] [--throttle N]
//	kafka-reassign-partitions --bootstrap-server H:P --verify   --reassignment-json-file F
//	kafka-reassign-partitions --bootstrap-server H:P --cancel   --reassignment-json-file F
//	kafka-reassign-partitions --bootstrap-server H:P --list
//
// The files are Kafka's:
//
//	topics to move:  {"topics": [{"topic": "foo"}], "version": 1}
//	reassignment:    {"version": 1, "partitions": [{"topic": "foo", "partition": 0,
//	                  "replicas": [1, 2], "log_dirs": ["any", "any"]}]}
//
// --generate proposes an assignment with Kafka's rack-unaware replica
// placement over the given brokers (random start index and shift, as
// AdminUtils.assignReplicasToBrokers does) and prints it with the current
// one; it changes nothing. --execute --throttle N sets replication
// throttles (KIP-73) before starting the moves, as Kafka's
// modifyReassignmentThrottle does:
//
//	topic  leader.replication.throttled.replicas   = p:b for every source replica b
//	       follower.replication.throttled.replicas = p:b for every added replica b
//	                   (sources: the current replicas, or an ongoing
//	                   reassignment's original ones; --additional resubmits)
//	broker leader/follower.replication.throttled.rate = N, on every broker
//	       that is a source or a destination
//
// --verify, once no reassignment is left in the cluster, clears the
// replication throttles of every broker and of the file's topics (unless
// --preserve-throttles), as Kafka does. Moves between log directories
// (so --replica-alter-log-dirs-throttle has no broker to apply to, as in
// Kafka with "any" log dirs) and rack-aware --generate are not supported.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-reassign-partitions",
		Summary: "Move partition replicas between brokers (kafka-reassign-partitions.sh).",
		Run:     runReassignPartitions,
	})
}

// reassignRandIntN picks Kafka's random start index and replica shift in
// --generate; tests replace it.
var reassignRandIntN = rand.IntN

// partitionReplicas is one partition and its replica list.
type partitionReplicas struct {
	topic     string
	partition int32
	replicas  []int32
}

func (p partitionReplicas) name() string { return fmt.Sprintf("%s-%d", p.topic, p.partition) }

func comparePartitionReplicas(a, b partitionReplicas) int {
	return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// formatReassignmentJSON prints partitions as Kafka's reassignment JSON,
// sorted by topic and partition, every log dir "any".
func formatReassignmentJSON(parts []partitionReplicas) string {
	parts = slices.Clone(parts)
	slices.SortFunc(parts, comparePartitionReplicas)
	var sb strings.Builder
	sb.WriteString(`{"version":1,"partitions":[`)
	for i, p := range parts {
		if i > 0 {
			sb.WriteByte(',')
		}
		topic, _ := json.Marshal(p.topic)
		reps := make([]string, len(p.replicas))
		dirs := make([]string, len(p.replicas))
		for j, r := range p.replicas {
			reps[j] = strconv.Itoa(int(r))
			dirs[j] = `"any"`
		}
		fmt.Fprintf(&sb, `{"topic":%s,"partition":%d,"replicas":[%s],"log_dirs":[%s]}`,
			topic, p.partition, strings.Join(reps, ","), strings.Join(dirs, ","))
	}
	sb.WriteString("]}")
	return sb.String()
}

// parseReassignmentJSON parses Kafka's reassignment JSON (version 1).
func parseReassignmentJSON(data []byte) ([]partitionReplicas, error) {
	var doc struct {
		Version    *int `json:"version"`
		Partitions *[]struct {
			Topic     *string  `json:"topic"`
			Partition *int32   `json:"partition"`
			Replicas  *[]int32 `json:"replicas"`
			LogDirs   []string `json:"log_dirs"`
		} `json:"partitions"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, &kafkaError{Msg: "The input string is not a valid JSON: " + err.Error()}
	}
	if doc.Version != nil && *doc.Version != 1 {
		return nil, &kafkaError{Msg: fmt.Sprintf("Not supported version field value %d", *doc.Version)}
	}
	if doc.Partitions == nil || len(*doc.Partitions) == 0 {
		return nil, &kafkaError{Msg: "Partition reassignment list cannot be empty"}
	}
	var out []partitionReplicas
	seen := map[string]bool{}
	var dups []string
	for _, p := range *doc.Partitions {
		switch {
		case p.Topic == nil:
			return nil, &kafkaError{Msg: "No such field exists: `topic`"}
		case p.Partition == nil:
			return nil, &kafkaError{Msg: "No such field exists: `partition`"}
		case p.Replicas == nil:
			return nil, &kafkaError{Msg: "No such field exists: `replicas`"}
		}
		for _, d := range p.LogDirs {
			if d != "any" {
				return nil, &kafkaError{Msg: "Moving replicas between log directories is not supported"}
			}
		}
		if p.LogDirs != nil && len(p.LogDirs) != len(*p.Replicas) {
			return nil, &kafkaError{Msg: fmt.Sprintf("Size of replicas list %v is different from size of log dirs list %v for partition %s-%d",
				javaList(*p.Replicas), "["+strings.Join(p.LogDirs, ", ")+"]", *p.Topic, *p.Partition)}
		}
		pr := partitionReplicas{topic: *p.Topic, partition: *p.Partition, replicas: *p.Replicas}
		reps := map[int32]bool{}
		for _, r := range pr.replicas {
			if reps[r] {
				return nil, &kafkaError{Msg: fmt.Sprintf("Replica assignment has duplicate replicas: %s for partition %s",
					javaList(pr.replicas), pr.name())}
			}
			reps[r] = true
		}
		if seen[pr.name()] {
			dups = append(dups, pr.name())
			continue
		}
		seen[pr.name()] = true
		out = append(out, pr)
	}
	if len(dups) > 0 {
		return nil, &kafkaError{Msg: "Reassignment JSON file contains duplicate partitions: " + strings.Join(dups, ",")}
	}
	return out, nil
}

// javaList prints ids as Java's List.toString: [1, 2, 3].
func javaList(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// parseTopicsToMoveJSON parses {"topics": [{"topic": "foo"}], "version": 1}.
func parseTopicsToMoveJSON(data []byte) ([]string, error) {
	var doc struct {
		Version *int `json:"version"`
		Topics  *[]struct {
			Topic *string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, &kafkaError{Msg: "The input string is not a valid JSON: " + err.Error()}
	}
	if doc.Version != nil && *doc.Version != 1 {
		return nil, &kafkaError{Msg: fmt.Sprintf("Not supported version field value %d", *doc.Version)}
	}
	if doc.Topics == nil {
		return nil, &kafkaError{Msg: "Missing topics field"}
	}
	var topics []string
	for _, t := range *doc.Topics {
		if t.Topic == nil {
			return nil, &kafkaError{Msg: "No such field exists: `topic`"}
		}
		if slices.Contains(topics, *t.Topic) {
			return nil, &kafkaError{Msg: "List of topics to reassign contains duplicate entries: " + *t.Topic}
		}
		topics = append(topics, *t.Topic)
	}
	return topics, nil
}

// parseBrokerList parses --broker-list "1,2,3".
func parseBrokerList(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, &kafkaError{Msg: fmt.Sprintf("For input string: \"%s\"", f)}
		}
		if slices.Contains(out, int32(n)) {
			return nil, &kafkaError{Msg: "Duplicate broker list entries: " + s}
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// assignReplicasRackUnaware places nPartitions partitions of rf replicas
// on brokers as Kafka's rack-unaware assignment: partition p's first
// replica is brokers[(p+start) % n] and the others follow at a shift that
// grows by one every n partitions.
func assignReplicasRackUnaware(nPartitions, rf int, brokers []int32, start, shift int) [][]int32 {
	n := len(brokers)
	out := make([][]int32, nPartitions)
	for p := range nPartitions {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + start) % n
		reps := []int32{brokers[first]}
		for j := range rf - 1 {
			reps = append(reps, brokers[(first+1+(shift+j)%(n-1))%n])
		}
		out[p] = reps
	}
	return out
}

func runReassignPartitions(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-reassign-partitions", "This tool helps to move topic partitions between replicas.")
	conn := addAdminFlags(fs)
	generate := fs.Bool("generate", "Generate a candidate partition reassignment configuration. Note that this only generates a candidate assignment, it does not execute it.")
	execute := fs.Bool("execute", "Kick off the reassignment as specified by the --reassignment-json-file option.")
	verify := fs.Bool("verify", "Verify if the reassignment completed as specified by the --reassignment-json-file option.")
	cancel := fs.Bool("cancel", "Cancel an active reassignment.")
	fs.Bool("list", "List all active partition reassignments.")
	reassignFile := fs.String("reassignment-json-file", "String: manual assignment json file path",
		"The JSON file with the partition reassignment configuration.")
	topicsFile := fs.String("topics-to-move-json-file", "String: topics to reassign json file path",
		"Generate a reassignment configuration to move the partitions of the specified topics to the list of brokers specified by the --broker-list option.")
	brokerList := fs.String("broker-list", "String: brokerlist", "The list of brokers to which the partitions need to be reassigned in the form \"0,1,2\".")
	additional := fs.Bool("additional", "Execute this reassignment in addition to any other ongoing ones.")
	fs.Bool("disable-rack-aware", "Disable rack aware replica assignment (placement is always rack-unaware here).")
	throttle := fs.IntDefault("throttle", "Long: throttle",
		-1, "The movement of partitions between brokers will be throttled to this value (bytes/sec). This option can be included with --execute when a reassignment is started, and it can be altered by resubmitting the current reassignment along with the --additional flag. The throttle rate should be at least 1 KB/s.")
	logDirThrottle := fs.IntDefault("replica-alter-log-dirs-throttle", "Long: replicaAlterLogDirsThrottle",
		-1, "The movement of replicas between log directories on the same broker will be throttled to this value (bytes/sec). This option can be included with --execute when a reassignment is started, and it can be altered by resubmitting the current reassignment along with the --additional flag. The throttle rate should be at least 1 KB/s.")
	fs.IntDefault("timeout", "Long: timeout", 10000, "The maximum time in ms to wait for log directory replica assignment to begin.")
	preserveThrottles := fs.Bool("preserve-throttles", "Do not modify broker or topic throttles.")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	actions := fs.Given("generate", "execute", "verify", "cancel", "list")
	if len(actions) != 1 {
		return usagef("Command must include exactly one action: --generate, --execute, --verify, --cancel, or --list")
	}
	if !fs.Changed("bootstrap-server") {
		return usagef("Missing required argument \"[bootstrap-server]\"")
	}
	if err := checkReassignArgs(fs, actions[0]); err != nil {
		return err
	}
	var parts []partitionReplicas
	var topics []string
	var brokers []int32
	switch {
	case *generate:
		data, err := os.ReadFile(*topicsFile)
		if err != nil {
			return err
		}
		if topics, err = parseTopicsToMoveJSON(data); err != nil {
			return err
		}
		if brokers, err = parseBrokerList(*brokerList); err != nil {
			return err
		}
	case *execute, *verify, *cancel:
		data, err := os.ReadFile(*reassignFile)
		if err != nil {
			return err
		}
		if parts, err = parseReassignmentJSON(data); err != nil {
			return err
		}
	}
	cl, err := conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()
	switch {
	case *generate:
		return reassignGenerate(ctx, env.Stdout, cl, topics, brokers)
	case *execute:
		return reassignExecute(ctx, env.Stdout, cl, parts, *additional, *throttle, *logDirThrottle)
	case *verify:
		return reassignVerify(ctx, env.Stdout, cl, parts, *preserveThrottles)
	case *cancel:
		return reassignCancel(ctx, env.Stdout, cl, parts, *preserveThrottles)
	default: // --list
		return reassignList(ctx, env.Stdout, cl)
	}
}

// reassignArgs are, per action, the options it requires and the others
// it permits (Kafka's validateAndParseArgs).
var reassignArgs = map[string]struct{ required, permitted []string }{
	"verify":   {[]string{"reassignment-json-file"}, []string{"bootstrap-server", "command-config", "preserve-throttles"}},
	"generate": {[]string{"topics-to-move-json-file", "broker-list"}, []string{"bootstrap-server", "command-config", "disable-rack-aware"}},
	"execute": {[]string{"reassignment-json-file"}, []string{"additional", "bootstrap-server", "command-config",
		"throttle", "replica-alter-log-dirs-throttle", "timeout"}},
	"cancel": {[]string{"reassignment-json-file"}, []string{"bootstrap-server", "command-config", "preserve-throttles", "timeout"}},
	"list":   {nil, []string{"bootstrap-server", "command-config"}},
}

// checkReassignArgs checks that action has the options it requires and no
// option it does not permit.
func checkReassignArgs(fs *FlagSet, action string) error {
	args := reassignArgs[action]
	for _, req := range args.required {
		if !fs.Changed(req) {
			return usagef("Missing required argument \"[%s]\"", req)
		}
	}
	for _, o := range fs.options {
		if o.count == 0 || o.name == action || slices.Contains(args.required, o.name) || slices.Contains(args.permitted, o.name) {
			continue
		}
		return usagef("Option \"[%s]\" can't be used with action \"[%s]\"", o.name, action)
	}
	return nil
}

// currentAssignment returns the current replicas of every partition of
// topics, or an error naming a topic that does not exist.
func currentAssignment(ctx context.Context, cl *kgo.Client, topics []string) (map[string]partitionReplicas, error) {
	td, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string]partitionReplicas{}
	for _, t := range topics {
		d, ok := td[t]
		if !ok || d.Err != nil {
			return nil, &kafkaError{Msg: "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic " + t + " not found."}
		}
		for _, p := range d.Partitions {
			pr := partitionReplicas{topic: t, partition: p.Partition, replicas: slices.Clone(p.Replicas)}
			out[pr.name()] = pr
		}
	}
	return out, nil
}

func reassignGenerate(ctx context.Context, w io.Writer, cl *kgo.Client, topics []string, brokers []int32) error {
	cur, err := currentAssignment(ctx, cl, topics)
	if err != nil {
		return err
	}
	sorted := slices.Clone(brokers)
	slices.Sort(sorted)
	var current, proposed []partitionReplicas
	for _, t := range topics {
		var tparts []partitionReplicas
		for _, p := range cur {
			if p.topic == t {
				tparts = append(tparts, p)
			}
		}
		slices.SortFunc(tparts, comparePartitionReplicas)
		if len(tparts) == 0 {
			continue
		}
		rf := len(tparts[0].replicas)
		if rf > len(sorted) {
			return &kafkaError{Msg: fmt.Sprintf("org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor: %d larger than available brokers: %d.", rf, len(sorted))}
		}
		assign := assignReplicasRackUnaware(len(tparts), rf, sorted, reassignRandIntN(len(sorted)), reassignRandIntN(len(sorted)))
		for i, p := range tparts {
			current = append(current, p)
			proposed = append(proposed, partitionReplicas{topic: t, partition: p.partition, replicas: assign[i]})
		}
	}
	fmt.Fprintf(w, "Current partition replica assignment\n%s\n\n", formatReassignmentJSON(current))
	fmt.Fprintf(w, "Proposed partition reassignment configuration\n%s\n", formatReassignmentJSON(proposed))
	return nil
}

// ongoingReassignments returns the partitions being reassigned, by name.
func ongoingReassignments(ctx context.Context, cl *kgo.Client, parts []partitionReplicas) (map[string]bool, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000
	if parts != nil {
		idx := map[string]int{}
		for _, p := range parts {
			i, ok := idx[p.topic]
			if !ok {
				i = len(req.Topics)
				idx[p.topic] = i
				rt := kmsg.NewListPartitionReassignmentsRequestTopic()
				rt.Topic = p.topic
				req.Topics = append(req.Topics, rt)
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p.partition)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s-%d", t.Topic, p.Partition)] = true
		}
	}
	return out, nil
}

// alterReassignments sends AlterPartitionReassignments for parts (nil
// replicas cancel) and returns the failed partitions' Java error strings
// by name.
func alterReassignments(ctx context.Context, cl *kgo.Client, parts []partitionReplicas, cancel bool) (map[string]string, error) {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 30000
	idx := map[string]int{}
	for _, p := range parts {
		i, ok := idx[p.topic]
		if !ok {
			i = len(req.Topics)
			idx[p.topic] = i
			rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition = p.partition
		if !cancel {
			rp.Replicas = slices.Clone(p.replicas)
			if rp.Replicas == nil {
				rp.Replicas = []int32{}
			}
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	failed := map[string]string{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := newBrokerError(p.ErrorCode, p.ErrorMessage); err != nil {
				failed[fmt.Sprintf("%s-%d", t.Topic, p.Partition)] = javaErrorString(err)
			}
		}
	}
	return failed, nil
}

func topicsOf(parts []partitionReplicas) []string {
	var ts []string
	for _, p := range parts {
		if !slices.Contains(ts, p.topic) {
			ts = append(ts, p.topic)
		}
	}
	return ts
}

func partitionNames(parts []partitionReplicas) string {
	parts = slices.Clone(parts)
	slices.SortFunc(parts, comparePartitionReplicas)
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = p.name()
	}
	return strings.Join(names, ",")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// reassignmentErrors is Kafka's failure of a reassignment request.
func reassignmentErrors(what string, failed map[string]string) error {
	var sb strings.Builder
	sb.WriteString("Error " + what + " partition(s):")
	for _, name := range sortedPartitionNames(failed) {
		sb.WriteString("\n" + name + ": " + failed[name])
	}
	return &kafkaError{Msg: sb.String()}
}

// sortedPartitionNames sorts "topic-partition" keys by topic then
// partition number.
func sortedPartitionNames[V any](m map[string]V) []string {
	names := sortedKeys(m)
	split := func(s string) (string, int) {
		i := strings.LastIndexByte(s, '-')
		n, _ := strconv.Atoi(s[i+1:])
		return s[:i], n
	}
	slices.SortFunc(names, func(a, b string) int {
		ta, pa := split(a)
		tb, pb := split(b)
		return cmp.Or(strings.Compare(ta, tb), cmp.Compare(pa, pb))
	})
	return names
}

// reassignExecute starts the reassignments of parts, after setting the
// replication throttles when throttle >= 0. logDirThrottle applies to the
// brokers with moves between log directories, of which Gregor's files
// have none (their log dirs are all "any").
func reassignExecute(ctx context.Context, w io.Writer, cl *kgo.Client, parts []partitionReplicas, additional bool, throttle, logDirThrottle int64) error {
	cur, err := currentAssignment(ctx, cl, topicsOf(parts))
	if err != nil {
		return err
	}
	var current []partitionReplicas
	for _, p := range parts {
		c, ok := cur[p.name()]
		if !ok {
			return &kafkaError{Msg: "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Unable to find partition: " + p.name()}
		}
		current = append(current, c)
	}
	ongoing, err := listReassignments(ctx, cl)
	if err != nil {
		return err
	}
	if !additional && len(ongoing) > 0 {
		return &kafkaError{Msg: "Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment."}
	}
	fmt.Fprintf(w, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n",
		formatReassignmentJSON(current))
	if throttle >= 0 || logDirThrottle >= 0 {
		fmt.Fprintln(w, "Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.")
		if throttle >= 0 {
			if err := setReassignmentThrottle(ctx, w, cl, proposedMoves(ongoing, parts, cur), throttle); err != nil {
				return err
			}
		}
		if logDirThrottle >= 0 {
			// No replica moves between log directories: no broker to
			// set replica.alter.log.dirs.io.max.bytes.per.second on.
			fmt.Fprintf(w, "The replica-alter-dir throttle limit was set to %d B/s\n", logDirThrottle)
		}
	}
	failed, err := alterReassignments(ctx, cl, parts, false)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return reassignmentErrors("reassigning", failed)
	}
	fmt.Fprintf(w, "Successfully started partition reassignment%s for %s\n", plural(len(parts)), partitionNames(parts))
	return nil
}

// reassignment is an ongoing reassignment as ListPartitionReassignments
// reports it.
type reassignment struct {
	topic     string
	partition int32
	replicas  []int32
	adding    []int32
}

// listReassignments returns every ongoing reassignment, by partition name.
func listReassignments(ctx context.Context, cl *kgo.Client) (map[string]reassignment, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	out := map[string]reassignment{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s-%d", t.Topic, p.Partition)] = reassignment{topic: t.Topic, partition: p.Partition, replicas: p.Replicas, adding: p.AddingReplicas}
		}
	}
	return out, nil
}

// partitionMove is where a partition's replicas move: from the sources
// to the destinations that are not sources (Kafka's PartitionMove).
type partitionMove struct {
	topic        string
	partition    int32
	sources      []int32
	destinations []int32
}

// proposedMoves is Kafka's calculateProposedMoveMap: the ongoing
// reassignments (sources: replicas not being added; destinations: those
// being added) overlaid with parts, whose sources are an ongoing move's
// sources or else the current replicas.
func proposedMoves(ongoing map[string]reassignment, parts []partitionReplicas, current map[string]partitionReplicas) map[string]partitionMove {
	moves := map[string]partitionMove{}
	for name, r := range ongoing {
		var sources []int32
		for _, b := range r.replicas {
			if !slices.Contains(r.adding, b) && !slices.Contains(sources, b) {
				sources = append(sources, b)
			}
		}
		moves[name] = partitionMove{topic: r.topic, partition: r.partition, sources: sources, destinations: slices.Clone(r.adding)}
	}
	for _, p := range parts {
		var sources []int32
		if m, ok := moves[p.name()]; ok {
			sources = m.sources
		} else {
			sources = slices.Clone(current[p.name()].replicas)
		}
		var dests []int32
		for _, b := range p.replicas {
			if !slices.Contains(sources, b) && !slices.Contains(dests, b) {
				dests = append(dests, b)
			}
		}
		moves[p.name()] = partitionMove{topic: p.topic, partition: p.partition, sources: sources, destinations: dests}
	}
	return moves
}

// reassignmentThrottles is Kafka's calculateLeaderThrottles,
// calculateFollowerThrottles and calculateReassigningBrokers: per topic,
// the "partition:broker" lists of source and of destination replicas,
// each sorted as strings (Java's TreeSet), and the brokers involved.
func reassignmentThrottles(moves map[string]partitionMove) (leader, follower map[string]string, brokers []int32) {
	leaderSets, followerSets := map[string][]string{}, map[string][]string{}
	for _, m := range moves {
		// Every topic gets both lists, "" when empty, as in Kafka.
		if _, ok := leaderSets[m.topic]; !ok {
			leaderSets[m.topic], followerSets[m.topic] = []string{}, []string{}
		}
		for _, b := range m.sources {
			leaderSets[m.topic] = append(leaderSets[m.topic], fmt.Sprintf("%d:%d", m.partition, b))
		}
		for _, b := range m.destinations {
			followerSets[m.topic] = append(followerSets[m.topic], fmt.Sprintf("%d:%d", m.partition, b))
		}
		for _, b := range append(slices.Clone(m.sources), m.destinations...) {
			if !slices.Contains(brokers, b) {
				brokers = append(brokers, b)
			}
		}
	}
	join := func(sets map[string][]string) map[string]string {
		out := map[string]string{}
		for topic, set := range sets {
			slices.Sort(set)
			out[topic] = strings.Join(slices.Compact(set), ",")
		}
		return out
	}
	slices.Sort(brokers)
	return join(leaderSets), join(followerSets), brokers
}

// setReassignmentThrottle is Kafka's modifyReassignmentThrottle: the
// topics' throttled-replica lists, then the rates of the brokers involved.
func setReassignmentThrottle(ctx context.Context, w io.Writer, cl *kgo.Client, moves map[string]partitionMove, throttle int64) error {
	leader, follower, brokers := reassignmentThrottles(moves)
	set := func(name, value string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = name, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(value)
		return c
	}
	alter := func(req *kmsg.IncrementalAlterConfigsRequest) error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, r := range resp.Resources {
			if err := newBrokerError(r.ErrorCode, r.ErrorMessage); err != nil {
				return fmt.Errorf("set throttles of %s: %w", r.ResourceName, err)
			}
		}
		return nil
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, topic := range sortedKeys(leader) {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		r.Configs = append(r.Configs, set(topicThrottleConfigs[0], leader[topic]), set(topicThrottleConfigs[1], follower[topic]))
		req.Resources = append(req.Resources, r)
	}
	if err := alter(req); err != nil {
		return err
	}
	// kgo sends each broker's resource to that broker, as Kafka's admin
	// client does.
	rate := strconv.FormatInt(throttle, 10)
	req = kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, b := range brokers {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(b))
		r.Configs = append(r.Configs, set(brokerThrottleConfigs[0], rate), set(brokerThrottleConfigs[1], rate))
		req.Resources = append(req.Resources, r)
	}
	if err := alter(req); err != nil {
		return err
	}
	fmt.Fprintf(w, "The inter-broker throttle limit was set to %d B/s\n", throttle)
	return nil
}

// reassignVerify prints the state of each partition of parts. When no
// reassignment is going on in the cluster at all it clears the
// replication throttles a reassignment may have set, as Kafka does,
// unless preserveThrottles.
func reassignVerify(ctx context.Context, w io.Writer, cl *kgo.Client, parts []partitionReplicas, preserveThrottles bool) error {
	ongoing, err := ongoingReassignments(ctx, cl, nil)
	if err != nil {
		return err
	}
	td, err := kadm.NewClient(cl).ListTopics(ctx, topicsOf(parts)...)
	if err != nil {
		return err
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, comparePartitionReplicas)
	fmt.Fprintln(w, "Status of partition reassignment:")
	for _, p := range sorted {
		var current []int32 // a missing topic or partition has none
		if d, ok := td[p.topic]; ok && d.Err == nil {
			current = d.Partitions[p.partition].Replicas
		}
		switch {
		case ongoing[p.name()]:
			fmt.Fprintf(w, "Reassignment of partition %s is still in progress.\n", p.name())
		case slices.Equal(current, p.replicas):
			fmt.Fprintf(w, "Reassignment of partition %s is completed.\n", p.name())
		default:
			fmt.Fprintf(w, "There is no active reassignment of partition %s, but replica set is %s rather than %s.\n",
				p.name(), joinIDs(current), joinIDs(p.replicas))
		}
	}
	// Kafka prints the (here always empty) state of log directory moves
	// on a line of its own.
	fmt.Fprintln(w)
	if len(ongoing) > 0 || preserveThrottles {
		return nil
	}
	return clearThrottles(ctx, w, cl, topicsOf(sorted))
}

// Replication throttle configs that a reassignment may set (KIP-73).
// Kafka also clears replica.alter.log.dirs.io.max.bytes.per.second, the
// throttle of moves between log directories, which Gregor's brokers do
// not have.
var (
	brokerThrottleConfigs = []string{"leader.replication.throttled.rate", "follower.replication.throttled.rate"}
	topicThrottleConfigs  = []string{"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"}
)

// clearThrottles deletes the replication throttles of every broker and
// of topics.
func clearThrottles(ctx context.Context, w io.Writer, cl *kgo.Client, topics []string) error {
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return err
	}
	ids := brokers.NodeIDs()
	ids = javaIntSetOrder(ids)
	fmt.Fprintf(w, "Clearing broker-level throttles on broker%s %s\n", plural(len(ids)), joinIDs(ids))
	deletes := func(names []string) []kadm.AlterConfig {
		out := make([]kadm.AlterConfig, len(names))
		for i, n := range names {
			out[i] = kadm.AlterConfig{Op: kadm.DeleteConfig, Name: n}
		}
		return out
	}
	rs, err := adm.AlterBrokerConfigs(ctx, deletes(brokerThrottleConfigs), ids...)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			return fmt.Errorf("clear throttles of broker %s: %w", r.Name, newBrokerError(kerrCode(r.Err), &r.ErrMessage))
		}
	}
	// Kafka prints its HashSet of the file's topics.
	var names []string
	for _, i := range javaHashMapOrder(topics) {
		names = append(names, topics[i])
	}
	fmt.Fprintf(w, "Clearing topic-level throttles on topic%s %s\n", plural(len(topics)), strings.Join(names, ","))
	if rs, err = adm.AlterTopicConfigs(ctx, deletes(topicThrottleConfigs), topics...); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			return fmt.Errorf("clear throttles of topic %s: %w", r.Name, newBrokerError(kerrCode(r.Err), &r.ErrMessage))
		}
	}
	return nil
}

// javaIntSetOrder sorts ids in the order a java.util.HashSet<Integer>
// holding them iterates (Integer.hashCode is the value; see
// javaHashMapOrder), ties ascending.
func javaIntSetOrder(ids []int32) []int32 {
	ids = slices.Clone(ids)
	capacity := 16
	for len(ids) > capacity*3/4 {
		capacity *= 2
	}
	bucket := func(id int32) int {
		h := uint32(id)
		return int((h ^ h>>16) & uint32(capacity-1))
	}
	slices.SortFunc(ids, func(a, b int32) int { return cmp.Or(cmp.Compare(bucket(a), bucket(b)), cmp.Compare(a, b)) })
	return ids
}

// kerrCode is the Kafka error code of err, or -1 (unknown server error)
// when it carries none.
func kerrCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return -1
}

// reassignCancel cancels the file's partitions' active reassignments,
// then, unless preserveThrottles, clears the replication throttles of
// every broker and of the file's topics, as Kafka's cancelAssignment
// does. Kafka prints the log directory moves' line without a line
// break before the throttle lines; Gregor ends it.
func reassignCancel(ctx context.Context, w io.Writer, cl *kgo.Client, parts []partitionReplicas, preserveThrottles bool) error {
	ongoing, err := ongoingReassignments(ctx, cl, parts)
	if err != nil {
		return err
	}
	var active []partitionReplicas
	for _, p := range parts {
		if ongoing[p.name()] {
			active = append(active, p)
		}
	}
	if len(active) == 0 {
		fmt.Fprintln(w, "None of the specified partition reassignments are active.")
	} else {
		failed, err := alterReassignments(ctx, cl, active, true)
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			return reassignmentErrors("cancelling", failed)
		}
		fmt.Fprintf(w, "Successfully cancelled partition reassignment%s for: %s\n", plural(len(active)), partitionNames(active))
	}
	fmt.Fprintln(w, "None of the specified partition moves are active.")
	if preserveThrottles {
		return nil
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, comparePartitionReplicas)
	return clearThrottles(ctx, w, cl, topicsOf(sorted))
}

func reassignList(ctx context.Context, w io.Writer, cl *kgo.Client) error {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return err
	}
	type line struct {
		p        partitionReplicas
		add, rem []int32
	}
	var lines []line
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			lines = append(lines, line{partitionReplicas{t.Topic, p.Partition, p.Replicas}, p.AddingReplicas, p.RemovingReplicas})
		}
	}
	if len(lines) == 0 {
		fmt.Fprintln(w, "No partition reassignments found.")
		return nil
	}
	slices.SortFunc(lines, func(a, b line) int { return comparePartitionReplicas(a.p, b.p) })
	fmt.Fprintln(w, "Current partition reassignments:")
	for _, l := range lines {
		fmt.Fprintf(w, "%s: replicas: %s. adding: %s. removing: %s.\n", l.p.name(),
			joinIDs(l.p.replicas), joinIDs(l.add), joinIDs(l.rem))
	}
	return nil
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}
