package cli

// kafka-get-offsets: Kafka's GetOffsetShell.
//
//	kafka-get-offsets --bootstrap-server HOST:PORT [--topic REGEX] [--partitions 0,1]
//	                  [--topic-partitions 't1:0,t2:1-3,:5-'] [--time latest|-1|earliest|-2|max-timestamp|-3|MS]
//	                  [--exclude-internal-topics]
//
// prints one "topic:partition:offset" line per partition, sorted by the
// string "topic-partition" as Kafka does; partitions without an answer
// (offset -1, e.g. no record at or after the timestamp) are left out.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-get-offsets",
		Summary: "Print the offsets of topic-partitions at a time (kafka-get-offsets.sh).",
		Run:     runGetOffsets,
	})
}

const getOffsetsUsage = "An interactive shell for getting topic-partition offsets."

// Special timestamps of ListOffsets (KIP-734, KIP-405, KIP-1023).
const (
	latestTimestamp                = -1
	earliestTimestamp              = -2
	maxTimestamp                   = -3
	earliestLocalTimestamp         = -4
	latestTieredTimestamp          = -5
	earliestPendingUploadTimestamp = -6
)

// parseOffsetTime parses --time as GetOffsetShell.parseOffsetSpec does.
func parseOffsetTime(s string) (int64, error) {
	switch s {
	case "earliest":
		return earliestTimestamp, nil
	case "latest":
		return latestTimestamp, nil
	case "max-timestamp":
		return maxTimestamp, nil
	case "earliest-local":
		return earliestLocalTimestamp, nil
	case "latest-tiered":
		return latestTieredTimestamp, nil
	case "earliest-pending-upload":
		return earliestPendingUploadTimestamp, nil
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &kafkaError{Msg: "Error occurred: Malformed time argument " + s + ". " +
			"Please use -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered / -6 or earliest-pending-upload, or a specified long format timestamp"}
	}
	return ts, nil
}

// partitionFilter accepts a partition number.
type partitionFilter func(int32) bool

// topicPartitionRule is one rule of GetOffsetShell's filters: a topic
// regex (always IncludeList without internal exclusion) and a partition
// filter.
type topicPartitionRule struct {
	topic     *topicFilter
	partition partitionFilter
}

var topicPartitionPattern = regexp.MustCompile(`^([^:,]*)(?::(?:([0-9]*)|(?:([0-9]*)-([0-9]*))))?$`)

// parseTopicPartitionRules parses --topic-partitions.
func parseTopicPartitionRules(s string) ([]topicPartitionRule, error) {
	var rules []topicPartitionRule
	for _, spec := range strings.Split(s, ",") {
		m := topicPartitionPattern.FindStringSubmatch(spec)
		if m == nil {
			return nil, &kafkaError{Msg: "Error occurred: Invalid rule specification: " + spec}
		}
		topicRe := ".*"
		if m[1] != "" {
			topicRe = m[1]
		}
		tf, err := newTopicFilter(topicRe)
		if err != nil {
			return nil, &kafkaError{Msg: "Error occurred: " + err.Error()}
		}
		rule := topicPartitionRule{topic: tf}
		atoi := func(s string, def int64) (int64, error) {
			if s == "" {
				return def, nil
			}
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return 0, &kafkaError{Msg: fmt.Sprintf("Error occurred: For input string: \"%s\"", s)}
			}
			return n, nil
		}
		if m[2] != "" {
			p, err := atoi(m[2], 0)
			if err != nil {
				return nil, err
			}
			rule.partition = func(q int32) bool { return int64(q) == p }
		} else {
			lo, err := atoi(m[3], 0)
			if err != nil {
				return nil, err
			}
			hi, err := atoi(m[4], 1<<31-1)
			if err != nil {
				return nil, err
			}
			rule.partition = func(q int32) bool { return int64(q) >= lo && int64(q) < hi }
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

func runGetOffsets(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-get-offsets", getOffsetsUsage)
	conn := addAdminFlags(fs)
	topicPartitions := fs.String("topic-partitions", "String: topic1:1,topic2:0-3,topic3,topic4:5-,topic5:-3",
		"Comma separated list of topic-partition patterns to get the offsets for, with the format of '"+topicPartitionPattern.String()+"'.")
	topic := fs.String("topic", "String: topic",
		"The topic to get the offsets for. It also accepts a regular expression. If not present, all authorized topics are queried. Cannot be used if --topic-partitions is present.")
	partitions := fs.String("partitions", "String: partition ids",
		"Comma separated list of partition ids to get the offsets for. If not present, all partitions of the authorized topics are queried. Cannot be used if --topic-partitions is present.")
	timeOpt := fs.StringDefault("time", "String: <timestamp> / -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered / -6 or earliest-pending-upload",
		"latest", "timestamp of the offsets before that. [Note: No offset is returned, if the timestamp greater than recently committed record timestamp is given.]")
	fs.Bool("exclude-internal-topics", "By default, internal topics are included. If specified, internal topics are excluded.")
	if len(args) == 0 {
		fs.PrintUsage(env.Stderr)
		return usagef("%s", getOffsetsUsage)
	}
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if !fs.Changed("bootstrap-server") {
		return usagef("Missing required argument \"[bootstrap-server]\"")
	}
	for _, hp := range strings.Split(*conn.bootstrap, ",") {
		if i := strings.LastIndex(hp, ":"); i <= 0 || i == len(hp)-1 {
			return usagef("Please provide valid host:port like host1:9091,host2:9092")
		}
	}
	if fs.Changed("topic-partitions") && (fs.Changed("topic") || fs.Changed("partitions")) {
		return &kafkaError{Msg: "Error occurred: --topic-partitions cannot be used with --topic or --partitions"}
	}
	excludeInternal := fs.Changed("exclude-internal-topics")
	ts, err := parseOffsetTime(*timeOpt)
	if err != nil {
		return err
	}
	var rules []topicPartitionRule
	if fs.Changed("topic-partitions") {
		if rules, err = parseTopicPartitionRules(*topicPartitions); err != nil {
			return err
		}
	} else {
		re := ".*"
		if fs.Changed("topic") {
			re = *topic
		}
		tf, err := newTopicFilter(re)
		if err != nil {
			return &kafkaError{Msg: "Error occurred: " + err.Error()}
		}
		var ids []int32
		if *partitions != "" {
			for _, p := range strings.Split(*partitions, ",") {
				n, err := strconv.ParseInt(p, 10, 32)
				if err != nil {
					return &kafkaError{Msg: "Error occurred: --partitions expects a comma separated list of numeric partition ids, but received: " + *partitions}
				}
				ids = append(ids, int32(n))
			}
		}
		rules = []topicPartitionRule{{topic: tf, partition: func(p int32) bool { return len(ids) == 0 || slices.Contains(ids, p) }}}
	}

	props, err := loadClientProps(*conn.commandConfig, "--command-config", nil)
	if err != nil {
		return &kafkaError{Msg: "Error occurred: " + err.Error(), Err: err}
	}
	props["client.id"] = "GetOffsetShell"
	cl, err := newClient(*conn.bootstrap, props, roleAdmin)
	if err != nil {
		return err
	}
	defer cl.Close()

	// List topics (listInternal = !excludeInternal), keep those a rule's
	// topic filter allows, then their partitions a rule allows.
	md := kmsg.NewPtrMetadataRequest()
	mresp, err := md.RequestWith(ctx, cl)
	if err != nil {
		return &kafkaError{Msg: "Error occurred: " + err.Error(), Err: err}
	}
	type tp struct {
		topic     string
		partition int32
	}
	var tps []tp
	for _, t := range mresp.Topics {
		if t.Topic == nil || (excludeInternal && t.IsInternal) {
			continue
		}
		name := *t.Topic
		for _, p := range t.Partitions {
			if slices.ContainsFunc(rules, func(r topicPartitionRule) bool {
				return r.topic.allowed(name, false) && r.partition(p.Partition)
			}) {
				tps = append(tps, tp{name, p.Partition})
			}
		}
	}
	if len(tps) == 0 {
		return &kafkaError{Msg: "Error occurred: Could not match any topic-partitions with the specified filters"}
	}

	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	byTopic := map[string]int{}
	for _, p := range tps {
		i, ok := byTopic[p.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.topic] = i
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p.partition
		rp.Timestamp = ts
		rp.CurrentLeaderEpoch = -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	type result struct {
		key  string // "topic-partition", Kafka's sort key
		line string
	}
	var results []result
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, rt := range shard.Req.(*kmsg.ListOffsetsRequest).Topics {
				for _, rp := range rt.Partitions {
					fmt.Fprintf(env.Stderr, "Skip getting offsets for topic-partition %s-%d due to error: %s\n",
						rt.Topic, rp.Partition, javaErrorString(shard.Err))
				}
			}
			continue
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				name := fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)
				if err := newBrokerError(rp.ErrorCode, nil); err != nil {
					fmt.Fprintf(env.Stderr, "Skip getting offsets for topic-partition %s due to error: %s\n", name, javaErrorString(err))
					continue
				}
				if rp.Offset == -1 {
					continue
				}
				results = append(results, result{key: name, line: fmt.Sprintf("%s:%d:%d", rt.Topic, rp.Partition, rp.Offset)})
			}
		}
	}
	slices.SortFunc(results, func(a, b result) int { return strings.Compare(a.key, b.key) })
	for _, r := range results {
		fmt.Fprintln(env.Stdout, r.line)
	}
	return nil
}
