package cli

// kafka-leader-election: Kafka's LeaderElectionCommand (KIP-460), electing
// partition leaders with ElectLeaders (key 43).
//
//	kafka-leader-election --bootstrap-server H:P --election-type PREFERRED|UNCLEAN
//	    (--topic T [--partition N] | --all-topic-partitions | --path-to-json-file F)
//
// F is {"partitions": [{"topic": "foo", "partition": 1}]}. Output, the
// partitions of each line sorted by topic and partition:
//
//	Successfully completed leader election (PREFERRED) for partitions foo-0, foo-1
//	Valid replica already elected for partitions foo-2
//	Error completing leader election (PREFERRED) for partition: foo-3: org.apache.kafka.common.errors.…Exception: …
//
// Any failed partition makes the command fail with
// "N replica(s) could not be elected".

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-leader-election",
		Summary: "Elect preferred or unclean partition leaders (kafka-leader-election.sh).",
		Run:     runLeaderElection,
	})
}

// topicPartition and compareTopicPartitions are in consumergroups.go.

// parseElectionJSON parses {"partitions": [{"topic": "t", "partition": 0}]}.
func parseElectionJSON(data []byte) ([]topicPartition, error) {
	var doc struct {
		Partitions *[]struct {
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, &kafkaError{Msg: "The input string is not a valid JSON: " + err.Error()}
	}
	if doc.Partitions == nil {
		return nil, &kafkaError{Msg: "Missing partitions field"}
	}
	var out []topicPartition
	var dups []string
	for _, p := range *doc.Partitions {
		if p.Topic == nil {
			return nil, &kafkaError{Msg: "No such field exists: `topic`"}
		}
		if p.Partition == nil {
			return nil, &kafkaError{Msg: "No such field exists: `partition`"}
		}
		tp := topicPartition{*p.Topic, *p.Partition}
		if slices.Contains(out, tp) {
			dups = append(dups, tp.String())
			continue
		}
		out = append(out, tp)
	}
	if len(dups) > 0 {
		return nil, &kafkaError{Msg: "Replica election data contains duplicate partitions: " + strings.Join(dups, ",")}
	}
	return out, nil
}

func runLeaderElection(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-leader-election", "This tool attempts to elect a new leader for a set of topic partitions. The type of elections supported are preferred replicas and unclean replicas.")
	conn := addAdminFlags(fs)
	electionType := fs.String("election-type", "[PREFERRED,UNCLEAN]: election type",
		"Type of election to attempt. Possible values are \"preferred\" for preferred leader election or \"unclean\" for unclean leader election.")
	topic := fs.String("topic", "String: topic name",
		"Name of topic for which to perform an election. Not allowed if --path-to-json-file or --all-topic-partitions is specified.")
	partition := fs.Int("partition", "Integer: partition id",
		"Partition id for which to perform an election. REQUIRED if --topic is specified.")
	fs.Bool("all-topic-partitions", "Perform election on all of the eligible topic partitions based on the type of election (see the --election-type flag). Not allowed if --topic or --path-to-json-file is specified.")
	jsonFile := fs.String("path-to-json-file", "String: Path to JSON file",
		"The JSON file with the list of partition for which leader elections should be performed. Not allowed if --all-topic-partitions or --topic flags are specified.")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if !fs.Changed("bootstrap-server") {
		return usagef("Missing required argument \"[bootstrap-server]\"")
	}
	if !fs.Changed("election-type") {
		return usagef("Missing required option(s) [election-type]")
	}
	var typ int8
	var typName string
	switch strings.ToUpper(strings.TrimSpace(*electionType)) {
	case "PREFERRED":
		typ, typName = 0, "PREFERRED"
	case "UNCLEAN":
		typ, typName = 1, "UNCLEAN"
	default:
		return usagef("Cannot convert %s to ElectionType; expected PREFERRED or UNCLEAN", *electionType)
	}
	sources := fs.Given("topic", "all-topic-partitions", "path-to-json-file")
	if len(sources) != 1 {
		return usagef("One and only one of the following options is required: --all-topic-partitions, --topic, --path-to-json-file")
	}
	if fs.Changed("topic") != fs.Changed("partition") {
		return usagef("Missing required option(s) [%s]", map[bool]string{true: "partition", false: "topic"}[fs.Changed("topic")])
	}
	var parts []topicPartition // nil: every partition
	switch {
	case fs.Changed("topic"):
		parts = []topicPartition{{*topic, int32(*partition)}}
	case fs.Changed("path-to-json-file"):
		data, err := os.ReadFile(*jsonFile)
		if err != nil {
			return err
		}
		if parts, err = parseElectionJSON(data); err != nil {
			return err
		}
	}
	cl, err := conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()

	req := kmsg.NewPtrElectLeadersRequest()
	req.ElectionType = typ
	req.TimeoutMillis = 30000
	if parts != nil {
		idx := map[string]int{}
		for _, p := range parts {
			i, ok := idx[p.topic]
			if !ok {
				i = len(req.Topics)
				idx[p.topic] = i
				rt := kmsg.NewElectLeadersRequestTopic()
				rt.Topic = p.topic
				req.Topics = append(req.Topics, rt)
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p.partition)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := newBrokerError(resp.ErrorCode, nil); err != nil {
		return &kafkaError{Msg: "Error while making request\n" + javaErrorString(err), Err: err}
	}
	var succeeded, noop []topicPartition
	type failure struct {
		tp  topicPartition
		err string
	}
	var failed []failure
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			tp := topicPartition{t.Topic, p.Partition}
			switch err := newBrokerError(p.ErrorCode, p.ErrorMessage); {
			case err == nil:
				succeeded = append(succeeded, tp)
			case p.ErrorCode == kerr.ElectionNotNeeded.Code:
				noop = append(noop, tp)
			default:
				failed = append(failed, failure{tp, javaErrorString(err)})
			}
		}
	}
	join := func(tps []topicPartition) string {
		slices.SortFunc(tps, compareTopicPartitions)
		s := make([]string, len(tps))
		for i, tp := range tps {
			s[i] = tp.String()
		}
		return strings.Join(s, ", ")
	}
	if len(succeeded) > 0 {
		fmt.Fprintf(env.Stdout, "Successfully completed leader election (%s) for partitions %s\n", typName, join(succeeded))
	}
	if len(noop) > 0 {
		fmt.Fprintf(env.Stdout, "Valid replica already elected for partitions %s\n", join(noop))
	}
	if len(failed) > 0 {
		slices.SortFunc(failed, func(a, b failure) int { return compareTopicPartitions(a.tp, b.tp) })
		for _, f := range failed {
			fmt.Fprintf(env.Stdout, "Error completing leader election (%s) for partition: %s: %s\n", typName, f.tp, f.err)
		}
		return &kafkaError{Msg: fmt.Sprintf("%d replica(s) could not be elected", len(failed))}
	}
	return nil
}
