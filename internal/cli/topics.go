package cli

// kafka-topics: Kafka's TopicCommand.
//
//	kafka-topics --bootstrap-server HOST:PORT --create --topic T [--partitions N]
//	             [--replication-factor R | --replica-assignment 1:2,2:3] [--config k=v]... [--if-not-exists]
//	kafka-topics --bootstrap-server HOST:PORT --list [--topic REGEX] [--exclude-internal]
//	kafka-topics --bootstrap-server HOST:PORT --describe [--topic REGEX | --topic-id ID]
//	             [--under-replicated-partitions | --unavailable-partitions | --under-min-isr-partitions
//	              | --at-min-isr-partitions | --topics-with-overrides] [--exclude-internal] [--if-exists]
//	kafka-topics --bootstrap-server HOST:PORT --alter --topic REGEX --partitions N [--replica-assignment ...]
//	kafka-topics --bootstrap-server HOST:PORT --delete --topic REGEX [--if-exists]
//
// Output, as Kafka 4 prints it (fields separated by tabs):
//
//	Created topic T.
//	Topic: T	TopicId: <base64url>	PartitionCount: 1	ReplicationFactor: 1	Configs: k=v,k2=v2
//		Topic: T	Partition: 0	Leader: 1	Replicas: 1	Isr: 1	Elr: 	LastKnownElr:
//
// Describe uses DescribeTopicPartitions (KIP-966, which carries the ELR) and
// falls back to Metadata, where Kafka prints "Elr: N/A".

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-topics",
		Summary: "Create, delete, describe, or change a topic (kafka-topics.sh).",
		Run:     runTopics,
	})
}

// configsToolHint is appended by Kafka to messages about --alter.
const configsToolHint = " (To alter topic configurations, the kafka-configs tool can be used.)"

type topicsOptions struct {
	fs                *FlagSet
	conn              adminFlags
	topic, topicID    *string
	configs           *[]string
	partitions        *int64
	replicationFactor *int64
	replicaAssignment *string
	partitionLimit    *int64
	actions           []string // the one action given: create, list, ...
}

func runTopics(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-topics", "This tool helps to create, delete, describe, or change a topic.")
	o := &topicsOptions{fs: fs, conn: addAdminFlags(fs)}
	fs.Bool("list", "List all available topics.")
	fs.Bool("create", "Create a new topic.")
	fs.Bool("delete", "Delete a topic.")
	fs.Bool("alter", "Alter the number of partitions and replica assignment."+configsToolHint)
	fs.Bool("describe", "List details for the given topics.")
	o.topic = fs.String("topic", "String: topic",
		"The topic to create, alter, describe or delete. It also accepts a regular expression, except for --create option.")
	o.topicID = fs.String("topic-id", "String: topic-id", "The topic-id to describe.")
	o.configs = fs.Strings("config", "String: name=value",
		"A topic configuration override for the topic being created. It is supported only in combination with --create."+configsToolHint)
	fs.Strings("delete-config", "String: name", "This option is no longer supported and has been deprecated since 4.0")
	o.partitions = fs.Int("partitions", "Integer: # of partitions",
		"The number of partitions for the topic being created or altered. If not supplied with --create, the topic uses the cluster default.")
	o.replicationFactor = fs.Int("replication-factor", "Integer: replication factor",
		"The replication factor for each partition in the topic being created. If not supplied, the topic uses the cluster default.")
	o.replicaAssignment = fs.String("replica-assignment",
		"String: broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...",
		"A list of manual partition-to-broker assignments for the topic being created or altered.")
	fs.Bool("under-replicated-partitions", "If set when describing topics, only show under-replicated partitions.")
	fs.Bool("unavailable-partitions", "If set when describing topics, only show partitions whose leader is not available.")
	fs.Bool("under-min-isr-partitions", "If set when describing topics, only show partitions whose isr count is less than the configured minimum.")
	fs.Bool("at-min-isr-partitions", "If set when describing topics, only show partitions whose isr count is equal to the configured minimum.")
	fs.Bool("topics-with-overrides", "If set when describing topics, only show topics that have overridden configs.")
	fs.Bool("if-exists", "If set when altering or deleting or describing topics, the action will only execute if the topic exists.")
	fs.Bool("if-not-exists", "If set when creating topics, the create request will not fail if the topic already exists, but the request will still be sent.")
	fs.Bool("exclude-internal", "Exclude internal topics when listing or describing topics. By default, the internal topics are included.")
	o.partitionLimit = fs.IntDefault("partition-size-limit-per-response", "Integer: maximum number of partitions per response", 2000,
		"The maximum partition size to be included in one DescribeTopicPartitions response.")
	if len(args) == 0 {
		fs.PrintUsage(env.Stderr)
		return usagef("Create, delete, describe, or change a topic.")
	}
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if err := o.check(env); err != nil {
		return err
	}
	cl, err := o.conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()
	t := &topicService{env: env, cl: cl, adm: kadm.NewClient(cl), o: o}
	switch o.actions[0] {
	case "create":
		err = t.create(ctx)
	case "alter":
		err = t.alter(ctx)
	case "list":
		err = t.list(ctx)
	case "describe":
		err = t.describe(ctx)
	case "delete":
		err = t.delete(ctx)
	}
	return topicCommandError(err)
}

// topicCommandError turns a failure into what TopicCommand prints: its
// argument errors (IllegalArgumentException) verbatim on stderr, anything
// else as "Error while executing topic command : <message>" on stdout.
func topicCommandError(err error) error {
	if err == nil {
		return nil
	}
	var ue *UsageError
	var ke *kafkaError
	if errors.As(err, &ue) || errors.As(err, &ke) || errors.Is(err, context.Canceled) {
		return err
	}
	return &kafkaError{Stdout: true, Msg: "Error while executing topic command : " + err.Error(), Err: err}
}

// check applies TopicCommandOptions' rules on option combinations.
func (o *topicsOptions) check(env *Env) error {
	fs := o.fs
	o.actions = fs.Given("create", "list", "alter", "describe", "delete")
	if len(o.actions) != 1 {
		return usagef("Command must include exactly one action: --list, --describe, --create, --alter or --delete")
	}
	if fs.Changed("delete-config") {
		fmt.Fprintln(env.Stderr, "delete-config option is no longer supported and deprecated since version 4.0. The config will be fully removed in future releases.")
	}
	if !fs.Changed("bootstrap-server") {
		return &kafkaError{Msg: "--bootstrap-server must be specified"}
	}
	if fs.Changed("describe") && fs.Changed("if-exists") {
		if !fs.Changed("topic") && !fs.Changed("topic-id") {
			return usagef("--topic or --topic-id is required to describe a topic")
		}
		if fs.Changed("topic") && fs.Changed("topic-id") {
			fmt.Fprintln(env.Stdout, "Only topic id will be used when both --topic and --topic-id are specified and topicId is not Uuid.ZERO_UUID")
		}
	}
	if !fs.Changed("list") && !fs.Changed("describe") && !fs.Changed("topic") {
		return usagef("Missing required argument \"[topic]\"")
	}
	if fs.Changed("alter") {
		for _, n := range []string{"config"} {
			if fs.Changed(n) {
				return usagef("Option \"[alter]\" can't be used with option \"[%s]\"%s", n, configsToolHint)
			}
		}
		if !fs.Changed("partitions") {
			return usagef("Missing required argument \"[partitions]\"")
		}
	}
	all := []string{"alter", "create", "describe", "list", "delete"}
	invalid := func(used string, allowed ...string) error {
		if !fs.Changed(used) {
			return nil
		}
		for _, a := range all {
			if !slices.Contains(allowed, a) && fs.Changed(a) {
				return usagef("Option \"[%s]\" can't be used with option \"[%s]\"", used, a)
			}
		}
		return nil
	}
	checks := []struct {
		used    string
		allowed []string
	}{
		{"config", []string{"alter", "create"}},
		{"partitions", []string{"alter", "create"}},
		{"replication-factor", []string{"create"}},
		{"replica-assignment", []string{"alter", "create"}},
		{"if-exists", []string{"alter", "delete", "describe"}},
		{"if-not-exists", []string{"create"}},
		{"exclude-internal", []string{"list", "describe"}},
		{"topics-with-overrides", []string{"describe"}},
	}
	reports := []string{"under-replicated-partitions", "under-min-isr-partitions", "at-min-isr-partitions", "unavailable-partitions"}
	for _, r := range reports {
		checks = append(checks, struct {
			used    string
			allowed []string
		}{r, []string{"describe"}})
	}
	for _, c := range checks {
		if err := invalid(c.used, c.allowed...); err != nil {
			return err
		}
	}
	if fs.Changed("create") && fs.Changed("replica-assignment") {
		for _, n := range []string{"partitions", "replication-factor"} {
			if fs.Changed(n) {
				return usagef("Option \"[replica-assignment]\" can't be used with option \"[%s]\"", n)
			}
		}
	}
	for _, r := range reports {
		if fs.Changed(r) && fs.Changed("topics-with-overrides") {
			return usagef("Option \"[%s]\" can't be used with option \"[topics-with-overrides]\"", r)
		}
	}
	return nil
}

// topicService runs one kafka-topics action.
type topicService struct {
	env *Env
	cl  *kgo.Client
	adm *kadm.Client
	o   *topicsOptions
}

// parseReplicaAssignment parses "1:2,2:3" into per-partition replica
// lists, with TopicCommand's checks.
func parseReplicaAssignment(s string) ([][]int32, error) {
	var out [][]int32
	for i, part := range strings.Split(s, ",") {
		var brokers []int32
		seen := map[int32]bool{}
		var dups []string
		for _, b := range strings.Split(part, ":") {
			n, err := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
			if err != nil {
				return nil, &kafkaError{Msg: fmt.Sprintf("For input string: \"%s\"", strings.TrimSpace(b))}
			}
			if seen[int32(n)] {
				dups = append(dups, strconv.FormatInt(n, 10))
			}
			seen[int32(n)] = true
			brokers = append(brokers, int32(n))
		}
		if len(dups) > 0 {
			return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(dups, ","))
		}
		if i > 0 && len(brokers) != len(out[0]) {
			return nil, fmt.Errorf("Partition %d has different replication factor: [%s]", i, joinInt32s(brokers, ", "))
		}
		out = append(out, brokers)
	}
	return out, nil
}

// parseTopicConfigs parses --config values as TopicCommand does: each must
// split on '=' into exactly a non-empty key and a non-empty value.
func parseTopicConfigs(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		parts := regexp.MustCompile(`\s*=\s*`).Split(kv, -1)
		// Java's String.split drops trailing empty strings.
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		if len(parts) != 2 {
			return nil, &kafkaError{Msg: "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\"."}
		}
		out[strings.TrimSpace(parts[0])] = strings.TrimSpace(parts[1])
	}
	return out, nil
}

func (t *topicService) create(ctx context.Context) error {
	o := t.o
	name := *o.topic
	configs, err := parseTopicConfigs(*o.configs)
	if err != nil {
		return err
	}
	var assignment [][]int32
	if *o.replicaAssignment != "" {
		if assignment, err = parseReplicaAssignment(*o.replicaAssignment); err != nil {
			return err
		}
	}
	if strings.ContainsAny(name, "._") {
		fmt.Fprintln(t.env.Stdout, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.")
	}
	if o.fs.Changed("replication-factor") && (*o.replicationFactor < 1 || *o.replicationFactor > 32767) {
		return &kafkaError{Msg: "The replication factor must be between 1 and 32767 inclusive"}
	}
	if o.fs.Changed("partitions") && *o.partitions < 1 {
		return &kafkaError{Msg: "The partitions must be greater than 0"}
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions, rt.ReplicationFactor = -1, -1
	if len(assignment) > 0 {
		for i, replicas := range assignment {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition = int32(i)
			ra.Replicas = replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
	} else {
		if o.fs.Changed("partitions") {
			rt.NumPartitions = int32(min(*o.partitions, 1<<31-1))
		}
		if o.fs.Changed("replication-factor") {
			rt.ReplicationFactor = int16(*o.replicationFactor)
		}
	}
	for _, k := range sortedKeys(configs) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = k
		c.Value = kmsg.StringPtr(configs[k])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, t.cl)
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("CreateTopics: broker returned %d topics, expected 1", len(resp.Topics))
	}
	rtr := resp.Topics[0]
	if rtr.ErrorCode != 0 {
		if rtr.ErrorCode == kerr.TopicAlreadyExists.Code && o.fs.Changed("if-not-exists") {
			return nil
		}
		return newBrokerError(rtr.ErrorCode, rtr.ErrorMessage)
	}
	fmt.Fprintf(t.env.Stdout, "Created topic %s.\n", name)
	return nil
}

// internalTopics are the names Kafka's Topic.isInternal knows.
var internalTopics = map[string]bool{
	"__consumer_offsets":  true,
	"__transaction_state": true,
	"__share_group_state": true,
}

// topicFilter is Kafka's TopicFilter.IncludeList: the whole topic name
// must match the regular expression; ',' means '|', spaces and
// surrounding quotes are dropped.
type topicFilter struct{ re *regexp.Regexp }

func newTopicFilter(raw string) (*topicFilter, error) {
	s := strings.TrimSpace(raw)
	s = strings.ReplaceAll(s, ",", "|")
	s = strings.ReplaceAll(s, " ", "")
	s = strings.TrimLeft(s, `"'`)
	s = strings.TrimRight(s, `"'`)
	re, err := regexp.Compile("^(?:" + s + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s is an invalid regex.", s)
	}
	return &topicFilter{re: re}, nil
}

func (f *topicFilter) allowed(topic string, excludeInternal bool) bool {
	return f.re.MatchString(topic) && !(internalTopics[topic] && excludeInternal)
}

// listedTopic is a topic from a Metadata response.
type listedTopic struct {
	name     string
	id       [16]byte
	internal bool
}

// metadataTopics lists all topics, sorted by name, excluding those the
// broker flags internal when excludeInternal (ListTopicsOptions.listInternal).
func metadataTopics(ctx context.Context, cl *kgo.Client, excludeInternal bool) ([]listedTopic, error) {
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	var out []listedTopic
	for _, t := range resp.Topics {
		if t.Topic == nil || (excludeInternal && t.IsInternal) {
			continue
		}
		if t.ErrorCode != 0 {
			return nil, newBrokerError(t.ErrorCode, nil)
		}
		out = append(out, listedTopic{name: *t.Topic, id: t.TopicID, internal: t.IsInternal})
	}
	slices.SortFunc(out, func(a, b listedTopic) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// getTopics is TopicService.getTopics: all topic names, sorted, filtered by
// the --topic regex if given.
func (t *topicService) getTopics(ctx context.Context) ([]string, error) {
	exclude := t.o.fs.Changed("exclude-internal")
	all, err := metadataTopics(ctx, t.cl, exclude)
	if err != nil {
		return nil, err
	}
	var filter *topicFilter
	if t.o.fs.Changed("topic") {
		if filter, err = newTopicFilter(*t.o.topic); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, lt := range all {
		if filter != nil && !filter.allowed(lt.name, exclude) {
			continue
		}
		if filter == nil && exclude && internalTopics[lt.name] {
			continue
		}
		out = append(out, lt.name)
	}
	return out, nil
}

// ensureTopicExists fails with Kafka's message when a named topic was
// required but none matched.
func (t *topicService) ensureTopicExists(found []string) error {
	if t.o.fs.Changed("topic") && *t.o.topic != "" && !t.o.fs.Changed("if-exists") && len(found) == 0 {
		return &kafkaError{Msg: fmt.Sprintf("Topic '%s' does not exist as expected", *t.o.topic)}
	}
	return nil
}

func (t *topicService) list(ctx context.Context) error {
	topics, err := t.getTopics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(t.env.Stdout, strings.Join(topics, "\n"))
	return nil
}

func (t *topicService) delete(ctx context.Context) error {
	topics, err := t.getTopics(ctx)
	if err != nil {
		return err
	}
	if err := t.ensureTopicExists(topics); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	for _, name := range topics {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
		req.TopicNames = append(req.TopicNames, name)
	}
	resp, err := req.RequestWith(ctx, t.cl)
	if err != nil {
		return err
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			return newBrokerError(rt.ErrorCode, rt.ErrorMessage)
		}
	}
	return nil
}

func (t *topicService) alter(ctx context.Context) error {
	var assignment [][]int32
	if *t.o.replicaAssignment != "" {
		var err error
		if assignment, err = parseReplicaAssignment(*t.o.replicaAssignment); err != nil {
			return err
		}
	}
	topics, err := t.getTopics(ctx)
	if err != nil {
		return err
	}
	if err := t.ensureTopicExists(topics); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	var current map[string]int
	if len(assignment) > 0 {
		md, err := t.adm.Metadata(ctx, topics...)
		if err != nil {
			return err
		}
		current = map[string]int{}
		for _, td := range md.Topics {
			if td.Err != nil {
				return td.Err
			}
			current[td.Topic] = len(td.Partitions)
		}
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = 30000
	for _, name := range topics {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic = name
		rt.Count = int32(min(*t.o.partitions, 1<<31-1))
		if len(assignment) > 0 {
			start := current[name]
			if start > len(assignment) {
				start = len(assignment)
			}
			for _, replicas := range assignment[start:] {
				a := kmsg.NewCreatePartitionsRequestTopicAssignment()
				a.Replicas = replicas
				rt.Assignment = append(rt.Assignment, a)
			}
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, t.cl)
	if err != nil {
		return err
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			return newBrokerError(rt.ErrorCode, rt.ErrorMessage)
		}
	}
	return nil
}

// partitionInfo is Kafka's TopicPartitionInfo; elr and lastKnownElr are
// nil when the broker did not say (Metadata), printed as "N/A".
type partitionInfo struct {
	partition    int32
	leader       int32 // -1: none
	replicas     []int32
	isr          []int32
	elr          []int32
	lastKnownElr []int32
}

type topicDescription struct {
	name       string
	id         [16]byte
	partitions []partitionInfo
}

// describeTopicPartitions describes topics with DescribeTopicPartitions,
// following the cursor. ok is false when the broker does not support it.
func (t *topicService) describeTopicPartitions(ctx context.Context, topics []string) (descs []topicDescription, ok bool, err error) {
	byName := map[string]*topicDescription{}
	var order []string
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = int32(min(max(*t.o.partitionLimit, 1), 1<<31-1))
	for _, name := range topics {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = name
		req.Topics = append(req.Topics, rt)
	}
	for {
		resp, err := req.RequestWith(ctx, t.cl)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, err
			}
			return nil, false, nil // unsupported: fall back to Metadata
		}
		for _, rt := range resp.Topics {
			name := ""
			if rt.Topic != nil {
				name = *rt.Topic
			}
			if rt.ErrorCode != 0 {
				return nil, true, newBrokerError(rt.ErrorCode, nil)
			}
			d := byName[name]
			if d == nil {
				d = &topicDescription{name: name, id: rt.TopicID}
				byName[name] = d
				order = append(order, name)
			}
			for _, p := range rt.Partitions {
				d.partitions = append(d.partitions, partitionInfo{
					partition:    p.Partition,
					leader:       p.LeaderID,
					replicas:     p.Replicas,
					isr:          p.ISR,
					elr:          nonNil(p.EligibleLeaderReplicas),
					lastKnownElr: nonNil(p.LastKnownELR),
				})
			}
		}
		if resp.NextCursor == nil {
			break
		}
		req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
		// Topics before the cursor are done.
		if i := slices.IndexFunc(req.Topics, func(rt kmsg.DescribeTopicPartitionsRequestTopic) bool {
			return rt.Topic == resp.NextCursor.Topic
		}); i > 0 {
			req.Topics = req.Topics[i:]
		}
	}
	for _, n := range order {
		descs = append(descs, *byName[n])
	}
	return descs, true, nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// describeWithMetadata describes topics by name, or by ID when ids is not
// empty, with a Metadata request (no ELR information).
func (t *topicService) describeWithMetadata(ctx context.Context, names []string, ids [][16]byte) ([]topicDescription, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	for _, id := range ids {
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = id
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, t.cl)
	if err != nil {
		return nil, err
	}
	var out []topicDescription
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			return nil, newBrokerError(rt.ErrorCode, nil)
		}
		d := topicDescription{id: rt.TopicID}
		if rt.Topic != nil {
			d.name = *rt.Topic
		}
		for _, p := range rt.Partitions {
			d.partitions = append(d.partitions, partitionInfo{
				partition: p.Partition, leader: p.Leader, replicas: p.Replicas, isr: p.ISR,
			})
		}
		out = append(out, d)
	}
	return out, nil
}

func (t *topicService) describe(ctx context.Context) error {
	o := t.o
	// A non-zero --topic-id wins over --topic, as in Kafka.
	var id [16]byte
	if o.fs.Changed("topic-id") {
		var err error
		if id, err = parseKafkaUUID(*o.topicID); err != nil {
			return err
		}
	}
	if id != [16]byte{} {
		all, err := metadataTopics(ctx, t.cl, o.fs.Changed("exclude-internal"))
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(all, func(lt listedTopic) bool { return lt.id == id }) {
			if o.fs.Changed("if-exists") {
				return nil
			}
			return &kafkaError{Msg: fmt.Sprintf("TopicId '%s' does not exist as expected", formatKafkaUUID(id))}
		}
		// Kafka's admin client describes topic IDs with Metadata.
		descs, err := t.describeWithMetadata(ctx, nil, [][16]byte{id})
		if err != nil {
			return err
		}
		return t.printDescriptions(ctx, descs)
	}
	topics, err := t.getTopics(ctx)
	if err != nil {
		return err
	}
	if err := t.ensureTopicExists(topics); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	descs, ok, err := t.describeTopicPartitions(ctx, topics)
	if err != nil {
		return err
	}
	if !ok {
		if descs, err = t.describeWithMetadata(ctx, topics, nil); err != nil {
			return err
		}
	}
	return t.printDescriptions(ctx, descs)
}

// topicConfig is one entry of a DescribeConfigs answer.
type topicConfig struct {
	name      string
	value     *string
	isDefault bool
}

func (t *topicService) printDescriptions(ctx context.Context, descs []topicDescription) error {
	o := t.o
	names := make([]string, len(descs))
	for i, d := range descs {
		names[i] = d.name
	}
	configs, err := describeTopicConfigs(ctx, t.cl, names)
	if err != nil {
		return err
	}
	brokers, err := t.adm.ListBrokers(ctx)
	if err != nil {
		return err
	}
	live := map[int32]bool{}
	for _, b := range brokers {
		live[b.NodeID] = true
	}
	reassignments := map[string]map[int32]kadm.ListPartitionReassignmentsResponse{}
	var set kadm.TopicsSet
	for _, d := range descs {
		for _, p := range d.partitions {
			set.Add(d.name, p.partition)
		}
	}
	if rs, err := t.adm.ListPartitionReassignments(ctx, set); err == nil {
		for topic, ps := range rs {
			reassignments[topic] = ps
		}
	} else if ctx.Err() != nil {
		return err
	}

	underReplicated := o.fs.Changed("under-replicated-partitions")
	unavailable := o.fs.Changed("unavailable-partitions")
	underMinISR := o.fs.Changed("under-min-isr-partitions")
	atMinISR := o.fs.Changed("at-min-isr-partitions")
	overrides := o.fs.Changed("topics-with-overrides")
	describeConfigs := !underReplicated && !unavailable && !underMinISR && !atMinISR
	describePartitions := !overrides

	w := t.env.Stdout
	for _, d := range descs {
		cfg := configs[d.name]
		slices.SortFunc(d.partitions, func(a, b partitionInfo) int { return int(a.partition) - int(b.partition) })
		minISR := -1
		var overridden []string
		for _, c := range cfg {
			if c.name == "min.insync.replicas" && c.value != nil {
				if n, err := strconv.Atoi(*c.value); err == nil {
					minISR = n
				}
			}
			if !c.isDefault {
				v := "null"
				if c.value != nil {
					v = *c.value
				}
				overridden = append(overridden, c.name+"="+v)
			}
		}
		reassigning := func(p partitionInfo) (kadm.ListPartitionReassignmentsResponse, bool) {
			r, ok := reassignments[d.name][p.partition]
			return r, ok
		}
		replicationFactor := func(p partitionInfo) int {
			if r, ok := reassigning(p); ok {
				changing := append(slices.Clone(r.AddingReplicas), r.RemovingReplicas...)
				if slices.ContainsFunc(p.replicas, func(id int32) bool { return slices.Contains(changing, id) }) {
					return len(r.Replicas) - len(r.AddingReplicas)
				}
			}
			return len(p.replicas)
		}
		if describeConfigs && len(d.partitions) > 0 && (!overrides || len(overridden) > 0) {
			fmt.Fprintf(w, "Topic: %s", d.name)
			if d.id != [16]byte{} {
				fmt.Fprintf(w, "\tTopicId: %s", formatKafkaUUID(d.id))
			}
			fmt.Fprintf(w, "\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
				len(d.partitions), replicationFactor(d.partitions[0]), strings.Join(overridden, ","))
		}
		if !describePartitions {
			continue
		}
		for _, p := range d.partitions {
			hasLeader := p.leader >= 0
			print := describeConfigs ||
				(underReplicated && replicationFactor(p)-len(p.isr) > 0) ||
				(unavailable && (!hasLeader || !live[p.leader])) ||
				(underMinISR && (!hasLeader || len(p.isr) < minISR)) ||
				(atMinISR && len(p.isr) == minISR)
			if !print {
				continue
			}
			leader := "none"
			if hasLeader {
				leader = strconv.Itoa(int(p.leader))
			}
			fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s",
				d.name, p.partition, leader, joinInt32s(p.replicas, ","), joinInt32s(p.isr, ","))
			if r, ok := reassigning(p); ok {
				fmt.Fprintf(w, "\tAdding Replicas: %s\tRemoving Replicas: %s",
					joinInt32s(r.AddingReplicas, ","), joinInt32s(r.RemovingReplicas, ","))
			}
			if p.elr != nil {
				fmt.Fprintf(w, "\tElr: %s", joinInt32s(p.elr, ","))
			} else {
				fmt.Fprint(w, "\tElr: N/A")
			}
			if p.lastKnownElr != nil {
				fmt.Fprintf(w, "\tLastKnownElr: %s", joinInt32s(p.lastKnownElr, ","))
			} else {
				fmt.Fprint(w, "\tLastKnownElr: N/A")
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// describeTopicConfigs returns each topic's configs in the order Kafka's
// admin client iterates them (see javaHashMapOrder).
func describeTopicConfigs(ctx context.Context, cl *kgo.Client, topics []string) (map[string][]topicConfig, error) {
	out := map[string][]topicConfig{}
	if len(topics) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, n := range topics {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeTopic
		r.ResourceName = n
		req.Resources = append(req.Resources, r)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			return nil, newBrokerError(r.ErrorCode, r.ErrorMessage)
		}
		cs := []topicConfig{}
		names := make([]string, len(r.Configs))
		for i, c := range r.Configs {
			names[i] = c.Name
		}
		for _, i := range javaHashMapOrder(names) {
			c := r.Configs[i]
			cs = append(cs, topicConfig{name: c.Name, value: c.Value, isDefault: isDefaultConfig(c)})
		}
		out[r.ResourceName] = cs
	}
	return out, nil
}

// isDefaultConfig is ConfigEntry.isDefault: the value comes from the
// broker's built-in default.
func isDefaultConfig(c kmsg.DescribeConfigsResponseResourceConfig) bool {
	if c.Source == kmsg.ConfigSourceUnknown && c.IsDefault {
		return true // version 0 answers
	}
	return c.Source == kmsg.ConfigSourceDefaultConfig
}

func joinInt32s(s []int32, sep string) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = strconv.Itoa(int(n))
	}
	return strings.Join(parts, sep)
}

// validateTopicName is Kafka's Topic.validate.
func validateTopicName(name string) error {
	why := ""
	switch {
	case name == "":
		why = "the empty string is not allowed"
	case name == ".":
		why = "'.' is not allowed"
	case name == "..":
		why = "'..' is not allowed"
	case len(name) > 249:
		why = fmt.Sprintf("the length of '%s' is longer than the max allowed length 249", name)
	default:
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				why = fmt.Sprintf("'%s' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'", name)
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return &brokerError{Code: kerr.InvalidTopicException.Code, Message: "Topic name is invalid: " + why}
}

// javaHashMapOrder returns the indexes of keys (distinct, inserted in
// order) in the order a java.util.HashMap with default settings iterates
// them. Kafka's admin client keeps a resource's configs in a HashMap
// (clients/admin/Config), so kafka-topics --describe lists the overridden
// configs in that order:
//
//	hash   = h ^ (h >>> 16)            h = String.hashCode()
//	bucket = hash & (capacity - 1)     capacity: 16, doubled while size > 0.75*capacity
//
// Entries iterate by bucket, and within a bucket in insertion order (a
// resize splits buckets without reordering; buckets hold far fewer than
// the 8 entries that would turn them into trees).
func javaHashMapOrder(keys []string) []int {
	capacity := 16
	for len(keys) > capacity*3/4 {
		capacity *= 2
	}
	order := make([]int, len(keys))
	bucket := make([]int, len(keys))
	for i, k := range keys {
		order[i] = i
		h := javaStringHash(k)
		bucket[i] = int((h ^ (h >> 16)) & uint32(capacity-1))
	}
	slices.SortStableFunc(order, func(a, b int) int { return bucket[a] - bucket[b] })
	return order
}

// javaStringHash is Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over UTF-16 code units, in 32-bit arithmetic.
func javaStringHash(s string) uint32 {
	var h uint32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + uint32(u)
	}
	return h
}
