package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

func writeTempFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAssignReplicasRackUnaware(t *testing.T) {
	for _, c := range []struct {
		n, rf, start, shift int
		brokers             []int32
		want                [][]int32
	}{
		{3, 2, 0, 0, []int32{1, 2, 3}, [][]int32{{1, 2}, {2, 3}, {3, 1}}},
		{3, 2, 0, 0, []int32{2, 3}, [][]int32{{2, 3}, {3, 2}, {2, 3}}},
		// The shift grows every len(brokers) partitions.
		{6, 3, 1, 0, []int32{1, 2, 3}, [][]int32{{2, 3, 1}, {3, 1, 2}, {1, 2, 3}, {2, 1, 3}, {3, 2, 1}, {1, 3, 2}}},
	} {
		if got := assignReplicasRackUnaware(c.n, c.rf, c.brokers, c.start, c.shift); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: got %v", c, got)
		}
	}
}

func TestParseReassignmentJSON(t *testing.T) {
	got, err := parseReassignmentJSON([]byte(`{"version":1,"partitions":[{"topic":"t","partition":1,"replicas":[2,3],"log_dirs":["any","any"]},{"topic":"u","partition":0,"replicas":[1]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []partitionReplicas{{"t", 1, []int32{2, 3}}, {"u", 0, []int32{1}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if s := formatReassignmentJSON(append(want, partitionReplicas{"a", 0, []int32{3}})); s != `{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[3],"log_dirs":["any"]},{"topic":"t","partition":1,"replicas":[2,3],"log_dirs":["any","any"]},{"topic":"u","partition":0,"replicas":[1],"log_dirs":["any"]}]}` {
		t.Errorf("format = %s", s)
	}
	for in, want := range map[string]string{
		`{"version":1,"partitions":[]}`:                                 "Partition reassignment list cannot be empty",
		`{"version":2,"partitions":[]}`:                                 "Not supported version field value 2",
		`{"partitions":[{"topic":"t","partition":0}]}`:                  "No such field exists: `replicas`",
		`{"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}`: "Replica assignment has duplicate replicas: [1, 1] for partition t-0",
		`{"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}`: "Reassignment JSON file contains duplicate partitions: t-0",
	} {
		if _, err := parseReassignmentJSON([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestParseElectionJSON(t *testing.T) {
	got, err := parseElectionJSON([]byte(`{"partitions":[{"topic":"a","partition":1},{"topic":"b","partition":0}]}`))
	if err != nil || !reflect.DeepEqual(got, []topicPartition{{"a", 1}, {"b", 0}}) {
		t.Errorf("got %v %v", got, err)
	}
	if _, err := parseElectionJSON([]byte(`{"partitions":[{"topic":"a","partition":1},{"topic":"a","partition":1}]}`)); err == nil ||
		err.Error() != "Replica election data contains duplicate partitions: a-1" {
		t.Errorf("dup: %v", err)
	}
}

func TestReplicationToolsArgumentErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"kafka-metadata-quorum", "describe", "--status"}, "Only one of --bootstrap-server or --bootstrap-controller must be specified"},
		{[]string{"kafka-metadata-quorum", "--bootstrap-server", "h:1", "describe"}, "one of the arguments --status --replication is required"},
		{[]string{"kafka-metadata-quorum", "--bootstrap-server", "h:1", "--status"}, "too few arguments: expected one of the commands \"describe\", \"add-controller\", \"remove-controller\""},
		{[]string{"kafka-reassign-partitions", "--bootstrap-server", "h:1"}, "Command must include exactly one action: --generate, --execute, --verify, --cancel, or --list"},
		{[]string{"kafka-reassign-partitions", "--bootstrap-server", "h:1", "--execute"}, "Missing required argument \"[reassignment-json-file]\""},
		{[]string{"kafka-reassign-partitions", "--bootstrap-server", "h:1", "--generate", "--broker-list", "1"}, "Missing required argument \"[topics-to-move-json-file]\""},
		{[]string{"kafka-leader-election", "--bootstrap-server", "h:1", "--all-topic-partitions"}, "Missing required option(s) [election-type]"},
		{[]string{"kafka-leader-election", "--bootstrap-server", "h:1", "--election-type", "fast", "--all-topic-partitions"}, "Cannot convert fast to ElectionType; expected PREFERRED or UNCLEAN"},
		{[]string{"kafka-leader-election", "--bootstrap-server", "h:1", "--election-type", "preferred"}, "One and only one of the following options is required: --all-topic-partitions, --topic, --path-to-json-file"},
		{[]string{"kafka-leader-election", "--bootstrap-server", "h:1", "--election-type", "preferred", "--topic", "t"}, "Missing required option(s) [partition]"},
	} {
		r := runTool(t, c.args...)
		want := c.args[0] + ": " + c.want + "\nRun '" + c.args[0] + " --help' for its options.\n"
		if r.code != 1 || r.stderr != want || r.stdout != "" {
			t.Errorf("%q: code %d stdout %q stderr\n%s\nwant\n%s", c.args, r.code, r.stdout, r.stderr, want)
		}
	}
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// partitionState returns a partition's replicas, ISR and leader.
func partitionState(t *testing.T, addr, topic string, p int32) (replicas, isr []int32, leader int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	pd := td[topic].Partitions[p]
	r, i := slices.Clone(pd.Replicas), slices.Clone(pd.ISR)
	slices.Sort(i)
	return r, i, pd.Leader
}

// topicVisible reports whether the broker at addr lists topic.
func topicVisible(addr, topic string) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return false
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	return err == nil && td.Has(topic) && td[topic].Err == nil
}

func TestReplicationToolsCluster(t *testing.T) {
	c := kafkatest.StartCluster(t, 3, kafkatest.Config("auto.leader.rebalance.enable", "false"))
	addr := c.BrokerAddr(3)

	t.Run("quorum", func(t *testing.T) {
		var leader int32
		waitFor(t, "an active controller", func() bool { leader = c.ActiveController(); return leader > 0 })
		var voters []string
		for _, id := range c.NodeIDs() {
			voters = append(voters, fmt.Sprintf(`{"id": %d, "endpoints": ["CONTROLLER://%s"]}`, id, c.ControllerAddr(id)))
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		clusterID, _, _, err := describeClusterVia(context.Background(), cl.Request, 0)
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		numbers := regexp.MustCompile(`(?m)^(LeaderEpoch|HighWatermark|MaxFollowerLag|MaxFollowerLagTimeMs):( +)-?\d+$`)
		want := "ClusterId:              " + clusterID + "\n" +
			fmt.Sprintf("LeaderId:               %d\n", leader) +
			"LeaderEpoch:            N\n" +
			"HighWatermark:          N\n" +
			"MaxFollowerLag:         N\n" +
			"MaxFollowerLagTimeMs:   N\n" +
			"CurrentVoters:          [" + strings.Join(voters, ", ") + "]\n" +
			"CurrentObservers:       []\n"
		for _, bs := range [][]string{{"--bootstrap-server", addr}, {"--bootstrap-controller", c.ControllerAddr(2)}} {
			got := mustRun(t, append(append([]string{"kafka-metadata-quorum"}, bs...), "describe", "--status")...)
			if got = numbers.ReplaceAllString(got, "$1:${2}N"); got != want {
				t.Errorf("%v --status =\n%s\nwant\n%s", bs, got, want)
			}
		}

		got := mustRun(t, "kafka-metadata-quorum", "--bootstrap-server", addr, "describe", "--replication")
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		header := regexp.MustCompile(`^NodeId\tDirectoryId           \tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus  \t$`)
		if len(lines) != 4 || !header.MatchString(lines[0]) {
			t.Fatalf("--replication =\n%s", got)
		}
		var ids []string
		for i, l := range lines[1:] {
			f := strings.Split(l, "\t")
			if len(f) != 8 || f[7] != "" {
				t.Fatalf("row %q", l)
			}
			status := "Follower"
			if i == 0 {
				status = "Leader  "
				if strings.TrimSpace(f[0]) != fmt.Sprint(leader) || strings.TrimSpace(f[3]) != "0" {
					t.Errorf("leader row %q, leader %d", l, leader)
				}
			}
			if f[6] != status || strings.TrimSpace(f[1]) != "AAAAAAAAAAAAAAAAAAAAAA" {
				t.Errorf("row %q", l)
			}
			ids = append(ids, strings.TrimSpace(f[0]))
		}
		if slices.Sort(ids); !reflect.DeepEqual(ids, []string{"1", "2", "3"}) {
			t.Errorf("rows name nodes %v", ids)
		}
	})

	t.Run("reassign", func(t *testing.T) {
		mustRun(t, "kafka-topics", "--bootstrap-server", addr, "--create", "--topic", "moves", "--replica-assignment", "1")
		// The create is answered once the controller committed it; the
		// broker's own metadata follows a moment later (as in Kafka).
		waitFor(t, "the topic in the broker's metadata", func() bool { return topicVisible(addr, "moves") })
		plan := writeTempFile(t, "plan.json", `{"version":1,"partitions":[{"topic":"moves","partition":0,"replicas":[2,3],"log_dirs":["any","any"]}]}`)
		got := mustRun(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--execute", "--reassignment-json-file", plan)
		want := "Current partition replica assignment\n\n" +
			`{"version":1,"partitions":[{"topic":"moves","partition":0,"replicas":[1],"log_dirs":["any"]}]}` + "\n\n" +
			"Save this to use as the --reassignment-json-file option during rollback\n" +
			"Successfully started partition reassignment for moves-0\n"
		if got != want {
			t.Errorf("--execute =\n%s\nwant\n%s", got, want)
		}
		clearing := "Clearing broker-level throttles on brokers 1,2,3\nClearing topic-level throttles on topic moves\n"
		verify := []string{"kafka-reassign-partitions", "--bootstrap-server", addr, "--verify", "--reassignment-json-file", plan}
		waitFor(t, "the reassignment to complete", func() bool {
			out := mustRun(t, verify...)
			switch out {
			case "Status of partition reassignment:\nReassignment of partition moves-0 is completed.\n\n" + clearing:
				return true
			case "Status of partition reassignment:\nReassignment of partition moves-0 is still in progress.\n\n":
				return false
			case "Status of partition reassignment:\nThere is no active reassignment of partition moves-0, but replica set is 2,3,1 rather than 2,3.\n\n" + clearing:
				// The controller has finished while the broker answering
				// Metadata has not applied the last change yet (Kafka's
				// tool asks the same two and can print the same).
				return false
			}
			t.Fatalf("--verify =\n%s", out)
			return false
		})
		if r, _, _ := partitionState(t, addr, "moves", 0); !reflect.DeepEqual(r, []int32{2, 3}) {
			t.Errorf("replicas after reassignment %v", r)
		}
		if got := mustRun(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--cancel", "--reassignment-json-file", plan); got != "None of the specified partition reassignments are active.\nNone of the specified partition moves are active.\n"+clearing {
			t.Errorf("--cancel = %q", got)
		}
		if got := mustRun(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--cancel", "--preserve-throttles", "--reassignment-json-file", plan); got != "None of the specified partition reassignments are active.\nNone of the specified partition moves are active.\n" {
			t.Errorf("--cancel --preserve-throttles = %q", got)
		}
		if got := mustRun(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--list"); got != "No partition reassignments found.\n" {
			t.Errorf("--list = %q", got)
		}
		back := writeTempFile(t, "back.json", `{"version":1,"partitions":[{"topic":"moves","partition":0,"replicas":[1]}]}`)
		if got := mustRun(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--verify", "--reassignment-json-file", back); got != "Status of partition reassignment:\nThere is no active reassignment of partition moves-0, but replica set is 2,3 rather than 1.\n\n"+clearing {
			t.Errorf("--verify of another plan = %q", got)
		}
		if got := mustRun(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--verify", "--preserve-throttles", "--reassignment-json-file", plan); got != "Status of partition reassignment:\nReassignment of partition moves-0 is completed.\n\n" {
			t.Errorf("--verify --preserve-throttles = %q", got)
		}
		bad := writeTempFile(t, "bad.json", `{"version":1,"partitions":[{"topic":"moves","partition":0,"replicas":[7]}]}`)
		r := runTool(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--execute", "--reassignment-json-file", bad)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "Error reassigning partition(s):\nmoves-0: org.apache.kafka.common.errors.") {
			t.Errorf("reassign to an unknown broker: %+v", r)
		}
	})

	t.Run("generate", func(t *testing.T) {
		old := reassignRandIntN
		reassignRandIntN = func(int) int { return 0 }
		defer func() { reassignRandIntN = old }()
		mustRun(t, "kafka-topics", "--bootstrap-server", addr, "--create", "--topic", "gen", "--replica-assignment", "1:2,2:3,3:1")
		waitFor(t, "the topic in the broker's metadata", func() bool { return topicVisible(addr, "gen") })
		topics := writeTempFile(t, "topics.json", `{"topics":[{"topic":"gen"}],"version":1}`)
		got := mustRun(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--generate", "--topics-to-move-json-file", topics, "--broker-list", "3,2")
		want := "Current partition replica assignment\n" +
			`{"version":1,"partitions":[{"topic":"gen","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},{"topic":"gen","partition":1,"replicas":[2,3],"log_dirs":["any","any"]},{"topic":"gen","partition":2,"replicas":[3,1],"log_dirs":["any","any"]}]}` + "\n\n" +
			"Proposed partition reassignment configuration\n" +
			`{"version":1,"partitions":[{"topic":"gen","partition":0,"replicas":[2,3],"log_dirs":["any","any"]},{"topic":"gen","partition":1,"replicas":[3,2],"log_dirs":["any","any"]},{"topic":"gen","partition":2,"replicas":[2,3],"log_dirs":["any","any"]}]}` + "\n"
		if got != want {
			t.Errorf("--generate =\n%s\nwant\n%s", got, want)
		}
		r := runTool(t, "kafka-reassign-partitions", "--bootstrap-server", addr, "--generate", "--topics-to-move-json-file", topics, "--broker-list", "3")
		if r.code != 1 || r.stderr != "org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor: 2 larger than available brokers: 1.\n" {
			t.Errorf("--generate on too few brokers: %+v", r)
		}
	})

	t.Run("election", func(t *testing.T) {
		mustRun(t, "kafka-topics", "--bootstrap-server", addr, "--create", "--topic", "pref", "--replica-assignment", "1:2:3")
		waitFor(t, "the topic in the broker's metadata", func() bool { return topicVisible(addr, "pref") })
		waitFor(t, "a full ISR", func() bool {
			_, isr, leader := partitionState(t, addr, "pref", 0)
			return leader == 1 && reflect.DeepEqual(isr, []int32{1, 2, 3})
		})
		elect := []string{"kafka-leader-election", "--bootstrap-server", addr, "--election-type", "preferred", "--topic", "pref", "--partition", "0"}
		if got := mustRun(t, elect...); got != "Valid replica already elected for partitions pref-0\n" {
			t.Errorf("election with the preferred leader in place = %q", got)
		}
		if err := c.StopNode(1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "leadership to move off node 1", func() bool {
			_, _, leader := partitionState(t, addr, "pref", 0)
			return leader == 2 || leader == 3
		})
		if err := c.RestartNode(1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "node 1 back in the ISR", func() bool {
			_, isr, _ := partitionState(t, addr, "pref", 0)
			return reflect.DeepEqual(isr, []int32{1, 2, 3})
		})
		if _, _, leader := partitionState(t, addr, "pref", 0); leader == 1 {
			t.Fatal("node 1 leads again before any election")
		}
		if got := mustRun(t, elect...); got != "Successfully completed leader election (PREFERRED) for partitions pref-0\n" {
			t.Errorf("preferred election = %q", got)
		}
		// The controller has elected node 1; the broker answering Metadata
		// catches up with the change soon after.
		waitFor(t, "node 1 to lead pref-0 after the election", func() bool {
			_, _, leader := partitionState(t, addr, "pref", 0)
			return leader == 1
		})
		path := writeTempFile(t, "elect.json", `{"partitions":[{"topic":"pref","partition":0},{"topic":"nope","partition":0}]}`)
		r := runTool(t, "kafka-leader-election", "--bootstrap-server", addr, "--election-type", "PREFERRED", "--path-to-json-file", path)
		if r.code != 1 || !strings.HasPrefix(r.stdout, "Valid replica already elected for partitions pref-0\n"+
			"Error completing leader election (PREFERRED) for partition: nope-0: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: ") ||
			r.stderr != "1 replica(s) could not be elected\n" {
			t.Errorf("election with an unknown partition: %+v", r)
		}
		// Stopping node 1 moved gen-0's leadership too (replicas [1,2]);
		// an election of every partition brings it back, and only it.
		waitFor(t, "node 1 back in gen-0's ISR", func() bool {
			_, isr, _ := partitionState(t, addr, "gen", 0)
			return reflect.DeepEqual(isr, []int32{1, 2})
		})
		all := []string{"kafka-leader-election", "--bootstrap-server", addr, "--election-type", "preferred", "--all-topic-partitions"}
		if got := mustRun(t, all...); got != "Successfully completed leader election (PREFERRED) for partitions gen-0\n" {
			t.Errorf("--all-topic-partitions = %q", got)
		}
		if got := mustRun(t, all...); got != "" {
			t.Errorf("--all-topic-partitions with every preferred leader in place = %q", got)
		}
	})
}

func TestPrintQuorum(t *testing.T) {
	dir := [16]byte{1, 2, 3}
	qi := &quorumInfo{
		leaderID: 2, leaderEpoch: 7, highWatermark: 90,
		voters: []quorumReplica{
			{id: 1, logEndOffset: 100, lastFetch: 1000, lastCaughtUp: 900, endpoints: []string{"CONTROLLER://h1:9093"}},
			{id: 2, directoryID: dir, logEndOffset: 100, lastFetch: 1000, lastCaughtUp: 1000, endpoints: []string{"CONTROLLER://h2:9093"}},
			{id: 3, logEndOffset: 80, lastFetch: 990, lastCaughtUp: 950},
		},
		observers: []quorumReplica{{id: 4, logEndOffset: 100, lastFetch: -1, lastCaughtUp: -1}},
	}
	var sb strings.Builder
	printQuorumStatus(&sb, "cid", qi)
	want := "ClusterId:              cid\n" +
		"LeaderId:               2\n" +
		"LeaderEpoch:            7\n" +
		"HighWatermark:          90\n" +
		"MaxFollowerLag:         20\n" +
		"MaxFollowerLagTimeMs:   50\n" +
		`CurrentVoters:          [{"id": 1, "endpoints": ["CONTROLLER://h1:9093"]}, {"id": 2, "directoryId": "` + formatKafkaUUID(dir) + `", "endpoints": ["CONTROLLER://h2:9093"]}, {"id": 3}]` + "\n" +
		`CurrentObservers:       [{"id": 4}]` + "\n"
	if sb.String() != want {
		t.Errorf("status =\n%s\nwant\n%s", sb.String(), want)
	}
	sb.Reset()
	printQuorumReplication(&sb, qi, true, 1000)
	want = "NodeId\tDirectoryId           \tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus  \t\n" +
		"2     \t" + formatKafkaUUID(dir) + "\t100         \t0  \t0 ms ago          \t0 ms ago             \tLeader  \t\n" +
		"1     \tAAAAAAAAAAAAAAAAAAAAAA\t100         \t0  \t0 ms ago          \t100 ms ago           \tFollower\t\n" +
		"3     \tAAAAAAAAAAAAAAAAAAAAAA\t80          \t20 \t10 ms ago         \t50 ms ago            \tFollower\t\n" +
		"4     \tAAAAAAAAAAAAAAAAAAAAAA\t100         \t0  \t-1                \t-1                   \tObserver\t\n"
	if sb.String() != want {
		t.Errorf("replication =\n%q\nwant\n%q", sb.String(), want)
	}
}

func TestParseTopicsToMoveAndBrokerList(t *testing.T) {
	if got, err := parseTopicsToMoveJSON([]byte(`{"topics":[{"topic":"a"},{"topic":"b"}],"version":1}`)); err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("topics = %v %v", got, err)
	}
	if _, err := parseTopicsToMoveJSON([]byte(`{"topics":[{"topic":"a"},{"topic":"a"}]}`)); err == nil ||
		err.Error() != "List of topics to reassign contains duplicate entries: a" {
		t.Errorf("dup topics: %v", err)
	}
	if got, err := parseBrokerList("3, 1,2"); err != nil || !reflect.DeepEqual(got, []int32{3, 1, 2}) {
		t.Errorf("brokers = %v %v", got, err)
	}
	if _, err := parseBrokerList("1,x"); err == nil || err.Error() != `For input string: "x"` {
		t.Errorf("bad broker: %v", err)
	}
	if _, err := parseBrokerList("1,1"); err == nil || err.Error() != "Duplicate broker list entries: 1,1" {
		t.Errorf("dup broker: %v", err)
	}
}
