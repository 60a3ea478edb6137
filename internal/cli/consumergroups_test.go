package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// The table goldens below were printed by Java 17 running Kafka's own
// format strings (ConsumerGroupCommand.printOffsets, printMembers,
// printStates, GroupOffsetsResetter.printOffsetsToReset, deleteOffsets)
// over the same data as the tests feed printOffsets & co.
const (
	goldenOffsets = `
GROUP           TOPIC                    PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID                             HOST            CLIENT-ID
app             orders                   0          5               7               2               c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1
app             orders                   1          3               3               0               c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1
app             a-rather-long-topic-name 0          -               10              -               -                                       -               -

GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
idle            orders          2          4               4               0               -               -               -
`
	goldenOffsetsv = `
GROUP           TOPIC           PARTITION  LEADER-EPOCH    CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID                             HOST            CLIENT-ID
app             orders          0          3               5               7               2               c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1
app             orders          1          -               3               3               0               c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1
`
	goldenMembers = `
GROUP           CONSUMER-ID                             HOST            CLIENT-ID       #PARTITIONS     
app             c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1              3               
app             c2-x                                    /10.0.0.2       client-two      0               
`
	goldenMembersv = `
GROUP           CONSUMER-ID                             HOST            CLIENT-ID       #PARTITIONS     CURRENT-EPOCH   CURRENT-ASSIGNMENT    TARGET-EPOCH    TARGET-ASSIGNMENT   
app             c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1              3               -               orders:0,1;payments:2 -               -                   
app             c2-x                                    /10.0.0.2       client-two      0               -               -                     -               -                   
`
	goldenMembersstatic = `
GROUP           CONSUMER-ID     GROUP-INSTANCE-ID HOST            CLIENT-ID       #PARTITIONS     
static          i1-abc          instance-one      /127.0.0.1      c1              1               
static          c2-def                            /127.0.0.1      c2              1               
`
	goldenMembers848 = `
GROUP           CONSUMER-ID            HOST            CLIENT-ID       #PARTITIONS     CURRENT-EPOCH   CURRENT-ASSIGNMENT   TARGET-EPOCH    TARGET-ASSIGNMENT    UPGRADED
kip848          AAAAAAAAAAAAAAAAAAAAAA /127.0.0.1      c1              2               7               orders:0,1           8               orders:0             true
kip848          BBBBBBBBBBBBBBBBBBBBBB /127.0.0.1      c2              0               6               -                    8               orders:1             false
`
	goldenEmptymembers = `
GROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     
`
	goldenState = `
GROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                #MEMBERS
app             localhost:9092  (1)       range                Stable               2

GROUP                       COORDINATOR (ID)                               ASSIGNMENT-STRATEGY  STATE                #MEMBERS
a-group-name-longer-than-15 broker-with-a-long-name.example.com:9092  (12) -                    Empty                0
`
	goldenStatev = `
GROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                GROUP-EPOCH     TARGET-ASSIGNMENT-EPOCH   #MEMBERS
kip848          localhost:9092  (1)       uniform              Reconciling          8               8                         2
`
	goldenPlan = `
GROUP           TOPIC                    PARTITION  NEW-OFFSET
app             orders                   0          5
app             a-rather-long-topic-name 3          12
`
	goldenDeloff = `
TOPIC           PARTITION  STATUS         
missing         -          Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.
orders          10         Error: org.apache.kafka.common.errors.GroupSubscribedToTopicException: Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.
orders          2          Successful     
`
)

const testMemberID = "c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a"

// bufEnv is an Env writing to buffers.
func bufEnv() (*Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}, &stdout, &stderr
}

func TestPrintOffsets(t *testing.T) {
	row := func(g, topic, p, epoch, off, end, lag, c, h, cl string) offsetRow {
		return offsetRow{g, topic, p, epoch, off, end, lag, c, h, cl}
	}
	app := groupOffsets{id: "app", state: "Stable", rows: []offsetRow{
		row("app", "orders", "0", "3", "5", "7", "2", testMemberID, "/127.0.0.1", "c1"),
		row("app", "orders", "1", "-", "3", "3", "0", testMemberID, "/127.0.0.1", "c1"),
		row("app", "a-rather-long-topic-name", "0", "-", "-", "10", "-", "-", "-", "-"),
	}}
	idle := groupOffsets{id: "idle", state: "Empty", rows: []offsetRow{row("idle", "orders", "2", "-", "4", "4", "0", "-", "-", "-")}}
	env, stdout, stderr := bufEnv()
	if err := printOffsets(env, []groupOffsets{app, idle}, false); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != goldenOffsets {
		t.Errorf("offsets:\n%q\nwant\n%q", stdout, goldenOffsets)
	}
	if want := "\nConsumer group 'idle' has no active members.\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}

	env, stdout, _ = bufEnv()
	app.rows = app.rows[:2]
	if err := printOffsets(env, []groupOffsets{app}, true); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != goldenOffsetsv {
		t.Errorf("verbose offsets:\n%q\nwant\n%q", stdout, goldenOffsetsv)
	}

	// A dead group, a stable group without rows and a rebalancing one.
	env, stdout, stderr = bufEnv()
	groups := []groupOffsets{{id: "gone", state: "Dead"}, {id: "new", state: "Stable"}, {id: "r", state: "CompletingRebalance"}}
	if err := printOffsets(env, groups, false); err != nil {
		t.Fatal(err)
	}
	if want := "\nError: Consumer group 'gone' does not exist.\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if want := "\nWarning: Consumer group 'r' is rebalancing.\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	env, _, _ = bufEnv()
	err := printOffsets(env, []groupOffsets{{id: "x", state: "Unknown"}}, false)
	if err == nil || err.Error() != "Expected a valid consumer group state, but found 'Unknown'." {
		t.Errorf("unknown state: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func tps(s string) []topicPartition {
	var out []topicPartition
	for _, f := range strings.Fields(s) {
		topic, p, _ := strings.Cut(f, ":")
		n, _ := strconv.Atoi(p)
		out = append(out, topicPartition{topic, int32(n)})
	}
	return out
}

func TestPrintMembers(t *testing.T) {
	app := &groupDescription{id: "app", state: "Stable", members: []memberDescription{
		{memberID: testMemberID, host: "/127.0.0.1", clientID: "c1", assignment: tps("payments:2 orders:1 orders:0")},
		{memberID: "c2-x", host: "/10.0.0.2", clientID: "client-two"},
	}}
	d := &describedGroups{ids: []string{"app"}, groups: map[string]*groupDescription{"app": app}}
	for _, c := range []struct {
		verbose bool
		want    string
	}{{false, goldenMembers}, {true, goldenMembersv}} {
		env, stdout, _ := bufEnv()
		if err := printMembers(env, d, c.verbose); err != nil {
			t.Fatal(err)
		}
		if stdout.String() != c.want {
			t.Errorf("verbose=%v:\n%q\nwant\n%q", c.verbose, stdout, c.want)
		}
	}

	static := &groupDescription{id: "static", state: "Stable", members: []memberDescription{
		{memberID: "i1-abc", instanceID: "instance-one", host: "/127.0.0.1", clientID: "c1", assignment: tps("t:0")},
		{memberID: "c2-def", host: "/127.0.0.1", clientID: "c2", assignment: tps("t:1")},
	}}
	kip848 := &groupDescription{id: "kip848", state: "Stable", assignor: "uniform", groupEpoch: ptr[int32](8), targetEpoch: ptr[int32](8),
		members: []memberDescription{
			{memberID: "AAAAAAAAAAAAAAAAAAAAAA", host: "/127.0.0.1", clientID: "c1", assignment: tps("orders:1 orders:0"),
				target: tps("orders:0"), epoch: ptr[int32](7), upgraded: ptr(true)},
			{memberID: "BBBBBBBBBBBBBBBBBBBBBB", host: "/127.0.0.1", clientID: "c2", target: tps("orders:1"),
				epoch: ptr[int32](6), upgraded: ptr(false)},
		}}
	idle := &groupDescription{id: "idle", state: "Empty"}
	for _, c := range []struct {
		g       *groupDescription
		verbose bool
		want    string
		stderr  string
	}{
		{static, false, goldenMembersstatic, ""},
		{kip848, true, goldenMembers848, ""},
		// Kafka prints the header even when the group has no members.
		{idle, false, goldenEmptymembers, "\nConsumer group 'idle' has no active members.\n"},
	} {
		env, stdout, stderr := bufEnv()
		d := &describedGroups{ids: []string{c.g.id}, groups: map[string]*groupDescription{c.g.id: c.g}}
		if err := printMembers(env, d, c.verbose); err != nil {
			t.Fatal(err)
		}
		if stdout.String() != c.want || stderr.String() != c.stderr {
			t.Errorf("%s:\n%q\nwant\n%q\nstderr %q, want %q", c.g.id, stdout, c.want, stderr, c.stderr)
		}
	}
}

func TestPrintStates(t *testing.T) {
	coord := kgo.BrokerMetadata{NodeID: 1, Host: "localhost", Port: 9092}
	d := &describedGroups{ids: []string{"app", "a-group-name-longer-than-15"}, groups: map[string]*groupDescription{
		"app": {id: "app", coordinator: coord, assignor: "range", state: "Stable", members: make([]memberDescription, 2)},
		"a-group-name-longer-than-15": {id: "a-group-name-longer-than-15", state: "Empty",
			coordinator: kgo.BrokerMetadata{NodeID: 12, Host: "broker-with-a-long-name.example.com", Port: 9092}},
	}}
	env, stdout, stderr := bufEnv()
	if err := printStates(env, d, false); err != nil {
		t.Fatal(err)
	}
	// Groups are printed in the order of their ids ('-' sorts before 'p');
	// goldenState holds app's table first.
	appTable, longTable, _ := strings.Cut(strings.TrimPrefix(goldenState, "\n"), "\n\n")
	if want := "\n" + longTable + "\n" + appTable + "\n"; stdout.String() != want {
		t.Errorf("state:\n%q\nwant\n%q", stdout, want)
	}
	if want := "\nConsumer group 'a-group-name-longer-than-15' has no active members.\n"; stderr.String() != want {
		t.Errorf("stderr %q", stderr)
	}
	d = &describedGroups{ids: []string{"kip848"}, groups: map[string]*groupDescription{
		"kip848": {id: "kip848", coordinator: coord, assignor: "uniform", state: "Reconciling",
			groupEpoch: ptr[int32](8), targetEpoch: ptr[int32](8), members: make([]memberDescription, 2)},
	}}
	env, stdout, _ = bufEnv()
	if err := printStates(env, d, true); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != goldenStatev {
		t.Errorf("verbose state:\n%q\nwant\n%q", stdout, goldenStatev)
	}
}

func TestPrintPlanAndCSV(t *testing.T) {
	plan := &resetPlan{groups: []string{"app"}, byID: map[string][]plannedOffset{"app": {
		{topicPartition{"orders", 0}, 5}, {topicPartition{"a-rather-long-topic-name", 3}, 12},
	}}}
	var b bytes.Buffer
	printPlan(&b, plan)
	if b.String() != goldenPlan {
		t.Errorf("plan:\n%q\nwant\n%q", b.String(), goldenPlan)
	}
	b.Reset()
	printCSV(&b, plan, true)
	if want := "orders,0,5\na-rather-long-topic-name,3,12\n\n"; b.String() != want {
		t.Errorf("csv %q, want %q", b.String(), want)
	}
	b.Reset()
	plan.groups = append(plan.groups, "g,2")
	printCSV(&b, plan, false)
	if want := "app,orders,0,5\napp,a-rather-long-topic-name,3,12\n\n"; b.String() != want {
		t.Errorf("csv with groups %q, want %q", b.String(), want)
	}
	// A group whose reset was refused still gets the header.
	b.Reset()
	printPlan(&b, &resetPlan{groups: []string{"busy"}, byID: map[string][]plannedOffset{}})
	if want := "\nGROUP           TOPIC           PARTITION  NEW-OFFSET\n"; b.String() != want {
		t.Errorf("empty plan %q", b.String())
	}
	b.Reset()
	printPlan(&b, &resetPlan{})
	if b.String() != "\n" {
		t.Errorf("no groups %q", b.String())
	}
	// Widths count characters as Java does, not bytes.
	b.Reset()
	g := strings.Repeat("é", 17)
	printPlan(&b, &resetPlan{groups: []string{g}, byID: map[string][]plannedOffset{g: {{topicPartition{"t", 0}, 1}}}})
	if want := "\nGROUP             TOPIC           PARTITION  NEW-OFFSET\n" + g + " t               0          1\n"; b.String() != want {
		t.Errorf("non-ASCII group:\n%q\nwant\n%q", b.String(), want)
	}
}

func TestPrintDeleteOffsets(t *testing.T) {
	var b bytes.Buffer
	results := map[topicPartition]error{
		{"orders", 2}:   nil,
		{"orders", 10}:  kerr.GroupSubscribedToTopic,
		{"missing", -1}: newBrokerError(kerr.UnknownTopicOrPartition.Code, nil),
	}
	printDeleteOffsets(&b, "app", kerr.GroupSubscribedToTopic, results)
	want := "\nError: Encountered some partition-level error, see the follow-up details.\n" + goldenDeloff
	if b.String() != want {
		t.Errorf("delete offsets:\n%q\nwant\n%q", b.String(), want)
	}
	for err, first := range map[error]string{
		nil:                          "Request succeeded for deleting offsets from group app.\n",
		kerr.GroupIDNotFound:         "\nError: The group id does not exist.\n",
		kerr.NonEmptyGroup:           "\nError: The group is not empty.\n",
		kerr.CoordinatorNotAvailable: "\nError: Encountered some unknown error: COORDINATOR_NOT_AVAILABLE\n",
		&timeoutError{call: "x"}:     "\nError: Encountered some unknown error: REQUEST_TIMED_OUT\n",
	} {
		b.Reset()
		printDeleteOffsets(&b, "app", err, map[topicPartition]error{})
		if !strings.HasPrefix(b.String(), first) {
			t.Errorf("%v: %q", err, b.String())
		}
	}
}

func TestPrintDeleteGroups(t *testing.T) {
	var b bytes.Buffer
	printDeleteGroups(&b, []string{"app", "idle", "billing"}, map[string]error{"app": nil, "idle": nil, "billing": nil})
	// java.util.HashMap order of the three names.
	if want := "Deletion of requested consumer groups ('app', 'idle', 'billing') was successful.\n"; b.String() != want {
		t.Errorf("%q", b.String())
	}
	b.Reset()
	printDeleteGroups(&b, []string{"app", "busy", "gone"}, map[string]error{
		"app":  nil,
		"busy": newBrokerError(kerr.NonEmptyGroup.Code, nil),
		"gone": newBrokerError(kerr.GroupIDNotFound.Code, nil),
	})
	want := "\nError: Deletion of some consumer groups failed:\n" +
		"* Group 'busy' could not be deleted due to: org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.\n" +
		"* Group 'gone' could not be deleted due to: org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.\n" +
		"\nThese consumer groups were deleted successfully: 'app'\n"
	if b.String() != want {
		t.Errorf("failures:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	printDeleteGroups(&b, nil, nil)
	if want := "Deletion of requested consumer groups () was successful.\n"; b.String() != want {
		t.Errorf("%q", b.String())
	}
}

// TestJavaHashOrder checks the iteration orders against those Java 17
// printed for HashMaps filled in the same insertion order.
func TestJavaHashOrder(t *testing.T) {
	partitions := func(topic string, n int) string {
		var tpsIn []topicPartition
		for p := range n {
			tpsIn = append(tpsIn, topicPartition{topic, int32(p)})
		}
		var out []string
		for _, tp := range partitionsInHashOrder(tpsIn) {
			out = append(out, strconv.Itoa(int(tp.partition)))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		topic string
		n     int
		want  string
	}{
		{"orders", 3, "0,1,2"},
		{"test1", 3, "0,2,1"},
		{"t", 12, "5,4,3,2,1,0,11,10,9,8,7,6"},
		{"payments", 20, "4,3,6,5,0,2,1,12,11,14,13,8,7,10,9,19,16,15,18,17"},
		{"a", 1, "0"},
	} {
		if got := partitions(c.topic, c.n); got != c.want {
			t.Errorf("%s x%d: %s, want %s", c.topic, c.n, got, c.want)
		}
	}
	var mixed []topicPartition
	for _, topic := range []string{"orders", "payments"} {
		for p := range 3 {
			mixed = append(mixed, topicPartition{topic, int32(p)})
		}
	}
	var got []string
	for _, tp := range partitionsInHashOrder(mixed) {
		got = append(got, tp.String())
	}
	if want := "payments-0 payments-2 payments-1 orders-0 orders-1 orders-2"; strings.Join(got, " ") != want {
		t.Errorf("mixed: %v", got)
	}
	groups := stringsInHashOrder([]string{"app", "idle", "billing", "g1", "g2", "consumer-group-10"})
	if want := []string{"app", "idle", "consumer-group-10", "g1", "g2", "billing"}; !reflect.DeepEqual(groups, want) {
		t.Errorf("groups: %v", groups)
	}
}

// TestParseKafkaDateTime compares with Kafka's Utils.getDateTime run on
// Java 17.
func TestParseKafkaDateTime(t *testing.T) {
	for in, want := range map[string]string{
		"2020-09-13T12:26:40.002":       "1600000000002",
		"2020-09-13T12:26:40.002Z":      "1600000000002",
		"2020-09-13T12:26:40.002+02:00": "1599992800002",
		"2020-09-13T12:26:40.002+0230":  "1599992800002", // the fallback 'X' reads the hours only
		"2020-09-13T12:26:40.002-08":    "1600028800002",
		"2020-09-13T12:26:40":           `java.text.ParseException: Unparseable date: "2020-09-13T12:26:40Z"`,
		"2020-09-13":                    "java.text.ParseException: Error parsing timestamp. It does not contain a 'T' according to ISO8601 format",
		"2020-02-30T00:00:00.000":       `java.text.ParseException: Unparseable date: "2020-02-30T00:00:00.000Z"`,
		"2020-1-2T3:4:5.6":              "1577934245006",
		"2020-09-13T24:00:00.000":       `java.text.ParseException: Unparseable date: "2020-09-13T24:00:00.000Z"`,
		"2020-09-13T12:26:40.1234":      `java.text.ParseException: Unparseable date: "2020-09-13T12:26:40.1234Z"`,
		"2020-09-13T12:26:40.002Zjunk":  "1600000000002",
		"2020-09-13T12:26:40.002+5":     `java.text.ParseException: Unparseable date: "2020-09-13T12:26:40.002+5"`,
		"T12:00:00.000":                 `java.text.ParseException: Unparseable date: "T12:00:00.000Z"`,
	} {
		ms, err := parseKafkaDateTime(in)
		got := strconv.FormatInt(ms, 10)
		if err != nil {
			got = exceptionString(err)
		}
		if got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// TestParseISODuration compares with java.time.Duration.parse.
func TestParseISODuration(t *testing.T) {
	for in, want := range map[string]int64{
		"P1D": 86400000000000, "PT1H": 3600000000000, "PT0.5S": 500000000, "-PT1M": -60000000000,
		"P1DT2H3M4.5S": 93784500000000, "PT-1.5S": -1500000000, "pt1h": 3600000000000, "PT1H30M": 5400000000000,
		"P": -1, "PT": -1, "P1DT": -1, "1D": -1,
	} {
		d, err := parseISODuration(in)
		if want == -1 {
			if err == nil || exceptionString(err) != "java.time.format.DateTimeParseException: Text cannot be parsed to a Duration" {
				t.Errorf("%s: %v, %v", in, d, err)
			}
			continue
		}
		if err != nil || int64(d) != want {
			t.Errorf("%s: %d, %v; want %d", in, d, err, want)
		}
	}
}

func TestParseTopicWithPartitions(t *testing.T) {
	got, err := parseTopicWithPartitions("orders:0,2")
	if err != nil || !reflect.DeepEqual(got, tps("orders:0 orders:2")) {
		t.Errorf("%v %v", got, err)
	}
	for in, want := range map[string]string{
		"orders:":     "Invalid topic arg 'orders:', expected topic name and partitions",
		"orders:1:2":  "Invalid topic arg 'orders:1:2', expected topic name and partitions",
		"orders:x":    "Invalid partition 'x' specified in topic arg 'orders:x''",
		"orders:0,,1": "Invalid partition '' specified in topic arg 'orders:0,,1''",
	} {
		if _, err := parseTopicWithPartitions(in); err == nil || err.Error() != want {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestParseResetPlan(t *testing.T) {
	p, err := parseResetPlan("orders,0,5\norders,1,7\n", []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []plannedOffset{{topicPartition{"orders", 0}, 5}, {topicPartition{"orders", 1}, 7}}; !reflect.DeepEqual(p.byGroup["app"], want) {
		t.Errorf("no-group format: %v", p.byGroup)
	}
	p, err = parseResetPlan("app,orders,0,5\r\nother,orders,1,7\n", []string{"app", "other"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.byGroup["app"]) != 1 || len(p.byGroup["other"]) != 1 || p.byGroup["other"][0].offset != 7 {
		t.Errorf("group format: %v", p.byGroup)
	}
	// With one --group, a file in the group format is read as such.
	p, err = parseResetPlan("\"a,b\",orders,0,5\n", []string{"x"})
	if err != nil || p.byGroup["a,b"] == nil {
		t.Errorf("quoted group: %v %v", p, err)
	}
	// A line that is not topic,partition,offset is read as
	// group,topic,partition,offset, missing columns being 0, as Jackson does.
	p, err = parseResetPlan("orders,zero,5\n", []string{"app"})
	if err != nil || !reflect.DeepEqual(p.byGroup["orders"], []plannedOffset{{topicPartition{"zero", 5}, 0}}) {
		t.Errorf("short line: %v %v", p, err)
	}
	if _, err := parseResetPlan("app,orders,x,5\n", []string{"app"}); err == nil ||
		!strings.Contains(err.Error(), "Cannot deserialize value of type `int` from String \"x\"") {
		t.Errorf("bad partition: %v", err)
	}
	if _, err := parseResetPlan("a,b,1,2,3\n", nil); err == nil || !strings.Contains(err.Error(), "Too many entries: expected at most 4") {
		t.Errorf("long line: %v", err)
	}
}

func TestOptionalValueArgs(t *testing.T) {
	o := newConsumerGroupsFlags()
	for _, c := range []struct{ in, want []string }{
		{[]string{"--list", "--state"}, []string{"--list", "--state="}},
		{[]string{"--list", "--state", "stable,empty"}, []string{"--list", "--state=stable,empty"}},
		{[]string{"--state", "--list"}, []string{"--state=", "--list"}},
		{[]string{"--sta", "x", "--typ"}, []string{"--state=x", "--type="}},
		{[]string{"--group", "--state", "--describe"}, []string{"--group", "--state", "--describe"}},
		{[]string{"--state=stable", "--", "--type"}, []string{"--state=stable", "--", "--type"}},
	} {
		if got := optionalValueArgs(o.fs, c.in, "state", "type"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAssignmentString(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "-",
		"orders:2 orders:0 orders:10":  "orders:0,2,10",
		"b:1 a:3 a:1 ab:0":             "a:1,3;ab:0;b:1",
		"payments:2 orders:1 orders:0": "orders:0,1;payments:2",
	} {
		if got := assignmentString(tps(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestValidateRegex(t *testing.T) {
	for in, want := range map[string]string{
		"orders-.*": "The regular expression `orders-.*` is valid.\n",
		"(orders":   "The regular expression `(orders` is invalid: missing closing ).\n",
		"a**":       "The regular expression `a**` is invalid: invalid nested repetition operator.\n",
	} {
		r := runTool(t, "kafka-consumer-groups", "--validate-regex", in)
		if r.code != 0 || r.stdout != want {
			t.Errorf("%s: %d %q %q", in, r.code, r.stdout, r.stderr)
		}
	}
}

// TestConsumerGroupsOptionErrors checks ConsumerGroupCommandOptions'
// rules; none of these reaches a broker.
func TestConsumerGroupsOptionErrors(t *testing.T) {
	bs := []string{"--bootstrap-server", "127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--list"}, `Missing required argument "[bootstrap-server]"`},
		{append(bs, "--describe"), "Option [describe] takes one of these options: [group], [all-groups]"},
		{append(bs, "--describe", "--group", "g", "--members", "--state"), "Option [describe] takes at most one of these options: [members], [offsets], [state]"},
		{append(bs, "--describe", "--group", "g", "--state", "stable"), "Option [describe] does not take a value for [state]"},
		{append(bs, "--list", "--members"), "Option(s) [members] are unavailable given other options on the command line"},
		{append(bs, "--describe", "--group", "g", "--type"), "Option(s) [type] are unavailable given other options on the command line"},
		{append(bs, "--delete"), "Option [delete] takes one of these options: [group], [all-groups]"},
		{append(bs, "--delete", "--group", "g", "--topic", "t"), "The consumer does not support topic-specific offset deletion from a consumer group."},
		{append(bs, "--delete-offsets", "--group", "g"), "Option [delete-offsets] takes the following options: [group], [topic]"},
		{append(bs, "--reset-offsets", "--group", "g", "--dry-run", "--execute"), "Option [reset-offsets] only accepts one of [execute] and [dry-run]"},
		{append(bs, "--reset-offsets", "--dry-run", "--to-earliest"), "Option [reset-offsets] takes one of these options: [group], [all-groups]"},
		{append(bs, "--reset-offsets", "--group", "g", "--dry-run", "--to-earliest", "--to-offset", "3"), `Option "[to-offset]" can't be used with option "[to-earliest]"`},
		{append(bs, "--describe", "--group", "g", "--all-groups"), `Option "[group]" can't be used with option "[all-groups]"`},
		{append(bs, "--list", "--group", "g"), `Option "[group]" can't be used with option "[list]"`},
		{append(bs, "--describe", "--group", "g", "--topic", "t"), `Option "[topic]" can't be used with option "[describe]"`},
		{bs, "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets, --validate-regex"},
		{append(bs, "--list", "--delete", "--all-groups"), "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets, --validate-regex"},
		{append(bs, "--list", "--state", "bogus"), "Invalid state list 'bogus'. Valid states are: PreparingRebalance, CompletingRebalance, Stable, Dead, Empty, Assigning, Reconciling"},
		{append(bs, "--list", "--type", "share"), "Invalid types list 'share'. Valid types are: Classic, Consumer"},
		{append(bs, "--reset-offsets", "--group", "g", "--to-offset", "x"), "cannot parse argument 'x' of option --to-offset"},
	} {
		r := runTool(t, append([]string{"kafka-consumer-groups"}, c.args...)...)
		if r.code != 1 || !hasLine(r.stderr, c.want) {
			t.Errorf("%q: exit %d\nstderr: %s\nwant line %q", c.args, r.code, r.stderr, c.want)
		}
	}
	// Without --dry-run or --execute Kafka warns that nothing will happen.
	r := runTool(t, "kafka-consumer-groups", "--bootstrap-server", "127.0.0.1:1", "--reset-offsets", "--to-earliest")
	if !strings.HasPrefix(r.stderr, "WARN: No action will be performed as the --execute option is missing.In a future major release") {
		t.Errorf("no warning: %q", r.stderr)
	}
	// No arguments: the usage and Kafka's description.
	r = runTool(t, "kafka-consumer-groups")
	if r.code != 1 || !strings.Contains(r.stderr, "--reset-offsets") || !hasLine(r.stderr, cgDescription) {
		t.Errorf("no args: %d %q", r.code, r.stderr)
	}
	r = runTool(t, "kafka-consumer-groups", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--to-datetime <String: datetime>") {
		t.Errorf("--help: %d %q", r.code, r.stdout)
	}
}

const (
	goldenLiveoffsets = `
GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID                             HOST            CLIENT-ID
app             orders          0          5               7               2               c1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx /127.0.0.1      c1
app             orders          1          3               3               0               c1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx /127.0.0.1      c1
app             orders          2          -               0               -               c1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx /127.0.0.1      c1
`
	goldenLivemembersv = `
GROUP           CONSUMER-ID                             HOST            CLIENT-ID       #PARTITIONS     CURRENT-EPOCH   CURRENT-ASSIGNMENT   TARGET-EPOCH    TARGET-ASSIGNMENT   
app             c1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx /127.0.0.1      c1              3               -               orders:0,1,2         -               -                   
`
	goldenLivestate = `
GROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                #MEMBERS
app             127.0.0.1:PPPPP  (1)      range                Stable               1
`
	goldenLiveemptyoffsets = `
GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
app             orders          0          5               7               2               -               -               -
app             orders          1          3               3               0               -               -               -
`
	goldenLiveemptystate = `
GROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                #MEMBERS
app             127.0.0.1:PPPPP  (1)      -                    Empty                0
`
	goldenLiveliststate = `GROUP                     STATE               
app                       Stable              
`
	goldenLivelisttypestate = `GROUP                     TYPE                 STATE               
app                       Classic              Empty               
`
)

// groupTestBroker starts a broker for the tests that need groups. It skips
// the test while the broker does not serve JoinGroup (the group
// coordinator is not there yet).
func groupTestBroker(t *testing.T) string {
	t.Helper()
	// No initial rebalance delay: groups form as soon as members join.
	addr := kafkatest.Start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0")).Addr()
	if !brokerSupportsAPI(t, addr, 11) {
		t.Skip("waiting for the group coordinator: the broker does not serve JoinGroup")
	}
	return addr
}

func cgArgs(addr string, args ...string) []string {
	return append([]string{"kafka-consumer-groups", "--bootstrap-server", addr}, args...)
}

// groupMember starts a consumer in group (classic protocol, range
// assignor, manual commits) on topics; it is closed at cleanup.
func groupMember(t *testing.T, addr, group, clientID string, extra []kgo.Opt, topics ...string) *kgo.Client {
	t.Helper()
	opts := append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID(clientID), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.Balancers(kgo.RangeBalancer()), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.HeartbeatInterval(200 * time.Millisecond)}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consumeAndCommit polls cl until it has n records, then commits them.
func consumeAndCommit(t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", got, n)
		}
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitGroup waits until DescribeGroups shows group satisfying ok.
func waitGroup(t *testing.T, addr, group string, ok func(g kmsg.DescribeGroupsResponseGroup) bool) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var last kmsg.DescribeGroupsResponseGroup
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil || len(resp.Groups) != 1 {
			continue
		}
		if last = resp.Groups[0]; ok(last) {
			return last
		}
	}
	t.Fatalf("group %s never reached the expected state; last %+v", group, last)
	return last
}

func stableWith(n int) func(g kmsg.DescribeGroupsResponseGroup) bool {
	return func(g kmsg.DescribeGroupsResponseGroup) bool {
		if g.State != "Stable" || len(g.Members) != n {
			return false
		}
		for _, m := range g.Members {
			if len(m.MemberAssignment) == 0 {
				return false
			}
		}
		return true
	}
}

// committed returns a group's committed offsets, "topic-partition" → offset.
func committed(t *testing.T, addr, group string) map[string]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	resps.Each(func(r kadm.OffsetResponse) { out[fmt.Sprintf("%s-%d", r.Topic, r.Partition)] = r.At })
	return out
}

func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}

// planText is the --reset-offsets table for short names.
func planText(group string, lines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-15s %-15s %-10s %s", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
	for _, l := range lines {
		f := strings.Fields(l) // "topic partition offset"
		fmt.Fprintf(&b, "\n%-15s %-15s %-10s %s", group, f[0], f[1], f[2])
	}
	return b.String() + "\n"
}

// TestConsumerGroupsLive runs every action against a group formed by a
// kgo consumer: while it is active, then after it left.
func TestConsumerGroupsLive(t *testing.T) {
	addr := groupTestBroker(t)
	const base = 1600000000000 // 2020-09-13T12:26:40Z
	createTopic(t, addr, "orders", 3)
	produceTo(t, addr, "orders", 0, 5, base)
	produceTo(t, addr, "orders", 1, 3, base+100)

	c1 := groupMember(t, addr, "app", "c1", nil, "orders")
	consumeAndCommit(t, c1, 8)
	produceTo(t, addr, "orders", 0, 2, base+200) // lag 2 on partition 0
	g := waitGroup(t, addr, "app", stableWith(1))
	member := g.Members[0]
	_, port, _ := strings.Cut(addr, ":")
	norm := strings.NewReplacer(
		member.MemberID, "c1-"+strings.Repeat("x", len(member.MemberID)-3),
		"127.0.0.1:"+port+"  (", "127.0.0.1:"+strings.Repeat("P", len(port))+"  (",
	).Replace
	run := func(args ...string) toolResult {
		t.Helper()
		r := runTool(t, cgArgs(addr, args...)...)
		r.stdout, r.stderr = norm(r.stdout), norm(r.stderr)
		return r
	}
	expect := func(r toolResult, stdout, stderr string) {
		t.Helper()
		if r.code != 0 || r.stdout != stdout || r.stderr != stderr {
			t.Errorf("exit %d\nstdout:\n%q\nwant\n%q\nstderr:\n%q\nwant\n%q", r.code, r.stdout, stdout, r.stderr, stderr)
		}
	}

	// Active group.
	expect(run("--list"), "app\n", "")
	expect(run("--list", "--state"), goldenLiveliststate, "")
	expect(run("--list", "--state", "stable"), goldenLiveliststate, "")
	expect(run("--list", "--state", "empty"), "GROUP                     STATE               \n", "")
	expect(run("--describe", "--group", "app"), goldenLiveoffsets, "")
	expect(run("--describe", "--group", "app", "--offsets"), goldenLiveoffsets, "")
	expect(run("--describe", "--group", "app", "--members", "--verbose"), goldenLivemembersv, "")
	expect(run("--describe", "--group", "app", "--state"), goldenLivestate, "")
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders", "--to-earliest", "--dry-run"),
		"\nError: Assignments can only be reset if the group 'app' is inactive, but the current state is Stable.\n"+
			"\nGROUP           TOPIC           PARTITION  NEW-OFFSET\n", "")

	// The member leaves: the group is empty and keeps its offsets.
	c1.Close()
	waitGroup(t, addr, "app", func(g kmsg.DescribeGroupsResponseGroup) bool { return g.State == "Empty" })
	noMembers := "\nConsumer group 'app' has no active members.\n"
	expect(run("--describe", "--group", "app"), goldenLiveemptyoffsets, noMembers)
	expect(run("--describe", "--group", "app", "--members"),
		"\nGROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     \n", noMembers)
	expect(run("--describe", "--all-groups", "--state"), goldenLiveemptystate, noMembers)
	expect(run("--list", "--type", "--state"), goldenLivelisttypestate, "")

	// Resets: the plan, and with --execute the commit.
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders", "--to-earliest", "--dry-run"),
		planText("app", "orders 0 0", "orders 1 0", "orders 2 0"), "")
	if got := committed(t, addr, "app"); got["orders-0"] != 5 || got["orders-1"] != 3 {
		t.Errorf("a dry run changed the offsets: %v", got)
	}
	expect(run("--reset-offsets", "--group", "app", "--all-topics", "--to-offset", "4", "--execute"),
		planText("app", "orders 0 4", "orders 1 3"),
		"WARN New offset (4) is higher than latest offset for topic partition orders-1. Value will be set to 3.\n")
	if got := committed(t, addr, "app"); got["orders-0"] != 4 || got["orders-1"] != 3 {
		t.Errorf("after --to-offset: %v", got)
	}
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders:0", "--shift-by", "-10", "--execute"),
		planText("app", "orders 0 0"),
		"WARN New offset (-6) is lower than earliest offset for topic partition orders-0. Value will be set to 0.\n")
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders", "--to-current", "--dry-run"),
		planText("app", "orders 0 0", "orders 1 3", "orders 2 0"), "")
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders", "--to-datetime", "2020-09-13T12:26:40.003", "--dry-run"),
		"\nWarn: Partition 2 from topic orders is empty. Falling back to latest known offset.\n"+
			planText("app", "orders 0 3", "orders 1 0", "orders 2 0"), "")
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders", "--by-duration", "P1D", "--dry-run"),
		"\nWarn: Partition 0 from topic orders is empty. Falling back to latest known offset.\n"+
			"\nWarn: Partition 1 from topic orders is empty. Falling back to latest known offset.\n"+
			"\nWarn: Partition 2 from topic orders is empty. Falling back to latest known offset.\n"+
			planText("app", "orders 0 7", "orders 1 3", "orders 2 0"), "")
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders", "--to-datetime", "2020-09-13", "--dry-run"),
		"\nError: Executing consumer group command failed due to java.text.ParseException: "+
			"Error parsing timestamp. It does not contain a 'T' according to ISO8601 format\n",
		"java.lang.RuntimeException: java.text.ParseException: Error parsing timestamp. It does not contain a 'T' according to ISO8601 format\n")

	// --export writes the plan as CSV, which --from-file reads back.
	r := run("--reset-offsets", "--group", "app", "--topic", "orders:0,1", "--to-latest", "--dry-run", "--export")
	expect(r, "orders,0,7\norders,1,3\n\n", "")
	csv := filepath.Join(t.TempDir(), "plan.csv")
	if err := os.WriteFile(csv, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(run("--reset-offsets", "--group", "app", "--from-file", csv, "--execute"), planText("app", "orders 0 7", "orders 1 3"), "")
	if got := committed(t, addr, "app"); got["orders-0"] != 7 || got["orders-1"] != 3 {
		t.Errorf("after --from-file: %v", got)
	}
	// A topic,partition,offset file applies to the one --group given;
	// group,topic,partition,offset lines to the groups they name.
	expect(run("--reset-offsets", "--group", "other", "--from-file", csv, "--dry-run"), planText("other", "orders 0 7", "orders 1 3"), "")
	if err := os.WriteFile(csv, []byte("app,orders,0,7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(run("--reset-offsets", "--group", "other", "--from-file", csv, "--dry-run"),
		"\nError: No reset plan for group other found.\n"+planText("other"), "")
	expect(run("--reset-offsets", "--group", "app", "--topic", "orders:7", "--to-earliest", "--dry-run"),
		"\nError: Executing consumer group command failed due to The partitions \"orders-7\" do not exist\n",
		"org.apache.kafka.common.errors.UnknownTopicOrPartitionException: The partitions \"orders-7\" do not exist\n")
	r = run("--reset-offsets", "--group", "app", "--to-earliest", "--dry-run")
	if r.code != 1 || !hasLine(r.stderr, "One of the reset scopes should be defined: --all-topics, --topic.") {
		t.Errorf("no scope: %d %q", r.code, r.stderr)
	}

	// Offsets of one partition, then of a topic that does not exist.
	expect(run("--delete-offsets", "--group", "app", "--topic", "orders:1"),
		"Request succeeded for deleting offsets from group app.\n\nTOPIC           PARTITION  STATUS         \norders          1          Successful     \n", "")
	if got := committed(t, addr, "app"); got["orders-0"] != 7 || len(got) != 1 {
		t.Errorf("after --delete-offsets: %v", got)
	}
	expect(run("--delete-offsets", "--group", "app", "--topic", "nosuch"),
		"Request succeeded for deleting offsets from group app.\n\nTOPIC           PARTITION  STATUS         \n"+
			"nosuch          -          Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.\n", "")

	// Deleting the group.
	expect(run("--delete", "--group", "app"), "Deletion of requested consumer groups ('app') was successful.\n", "")
	r = run("--describe", "--group", "app")
	// A Kafka 4 broker answers GROUP_ID_NOT_FOUND; older ones a Dead group.
	notFound := regexp.MustCompile(`^\nError: (Consumer group 'app' does not exist\.|Executing consumer group command failed due to org\.apache\.kafka\.common\.errors\.GroupIdNotFoundException: .+)\n$`)
	if r.code != 0 || !notFound.MatchString(r.stdout) {
		t.Errorf("describe after delete: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run("--delete", "--group", "app")
	if want := "\nError: Deletion of some consumer groups failed:\n* Group 'app' could not be deleted due to: org.apache.kafka.common.errors.GroupIdNotFoundException: "; r.code != 0 || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("delete again: %d %q", r.code, r.stdout)
	}
	expect(run("--list"), "", "")
}

// describedRow is one row of the offsets view, split into its columns.
type describedRow struct{ group, topic, partition, offset, end, lag, consumer, host, client string }

func parseOffsetRows(t *testing.T, out string) []describedRow {
	t.Helper()
	var rows []describedRow
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] == "GROUP" {
			continue
		}
		if len(f) != 9 {
			t.Fatalf("row %q", l)
		}
		rows = append(rows, describedRow{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]})
	}
	return rows
}

// TestConsumerGroupsTwoMembers describes a group whose two members share
// a topic, next to an empty group that only has committed offsets.
func TestConsumerGroupsTwoMembers(t *testing.T) {
	addr := groupTestBroker(t)
	createTopic(t, addr, "pairs", 4)
	for p := range int32(4) {
		produceTo(t, addr, "pairs", p, 1, 1600000000000)
	}
	a := groupMember(t, addr, "pair", "ca", nil, "pairs")
	b := groupMember(t, addr, "pair", "cb", nil, "pairs")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go a.PollFetches(ctx) // both must poll for the rebalance to finish
	go b.PollFetches(ctx)
	waitGroup(t, addr, "pair", stableWith(2))

	// An inactive group with offsets only, from an admin commit.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "pairs", Partition: 3, At: 1, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "idle", os); err != nil {
		t.Fatal(err)
	}

	r := runTool(t, cgArgs(addr, "--describe", "--all-groups")...)
	if r.code != 0 || r.stderr != "\nConsumer group 'idle' has no active members.\n" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	rows := parseOffsetRows(t, r.stdout)
	if len(rows) != 5 {
		t.Fatalf("rows: %v", rows)
	}
	// Groups come in the order of their ids: idle, then pair.
	if want := (describedRow{"idle", "pairs", "3", "1", "1", "0", "-", "-", "-"}); rows[0] != want {
		t.Errorf("idle row %+v", rows[0])
	}
	rows = rows[1:]
	owners := map[string]int{}
	for i, row := range rows {
		if row.group != "pair" || row.topic != "pairs" {
			t.Errorf("row %d: %+v", i, row)
		}
		if row.offset != "-" || row.end != "1" || row.lag != "-" || row.host == "-" {
			t.Errorf("row %d: %+v", i, row)
		}
		owners[row.consumer+"/"+row.client]++
	}
	if len(owners) != 2 {
		t.Errorf("owners %v", owners)
	}
	for o, n := range owners {
		if n != 2 {
			t.Errorf("%s owns %d partitions", o, n)
		}
	}
	if parts := []string{rows[0].partition, rows[1].partition, rows[2].partition, rows[3].partition}; !slices.Equal(sortedCopy(parts), []string{"0", "1", "2", "3"}) {
		t.Errorf("partitions %v", parts)
	}
	if !strings.HasPrefix(r.stdout, "\nGROUP ") || !strings.Contains(r.stdout, "\n\nGROUP ") {
		t.Errorf("tables not separated as Kafka separates them:\n%s", r.stdout)
	}

	r = runTool(t, cgArgs(addr, "--describe", "--group", "pair", "--members")...)
	var members []string
	for _, l := range strings.Split(r.stdout, "\n")[2:] {
		if f := strings.Fields(l); len(f) == 5 {
			members = append(members, f[3]+"="+f[4])
		}
	}
	if sort.Strings(members); !slices.Equal(members, []string{"ca=2", "cb=2"}) {
		t.Errorf("members %v in\n%s", members, r.stdout)
	}
	r = runTool(t, cgArgs(addr, "--describe", "--group", "pair", "--state")...)
	if f := strings.Fields(strings.Split(r.stdout, "\n")[2]); len(f) != 6 || f[3] != "range" || f[4] != "Stable" || f[5] != "2" {
		t.Errorf("state %q", r.stdout)
	}
	r = runTool(t, cgArgs(addr, "--delete", "--group", "pair", "--group", "idle")...)
	want := "\nError: Deletion of some consumer groups failed:\n* Group 'pair' could not be deleted due to: org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.\n" +
		"\nThese consumer groups were deleted successfully: 'idle'\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("delete:\n%q\nwant\n%q", r.stdout, want)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// TestConsumerGroupsNextGen describes a KIP-848 group, when the broker
// serves ConsumerGroupHeartbeat.
func TestConsumerGroupsNextGen(t *testing.T) {
	addr := groupTestBroker(t)
	if !brokerSupportsAPI(t, addr, 68) {
		t.Skip("the broker does not serve ConsumerGroupHeartbeat (KIP-848)")
	}
	createTopic(t, addr, "next", 2)
	produceTo(t, addr, "next", 0, 1, 1600000000000)
	produceTo(t, addr, "next", 1, 1, 1600000000000)
	c := groupMember(t, addr, "gen", "cn", []kgo.Opt{kgo.ServerSideBalancer()}, "next")
	consumeAndCommit(t, c, 2)

	var r toolResult
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r = runTool(t, cgArgs(addr, "--describe", "--group", "gen", "--members", "--verbose")...)
		if strings.Contains(r.stdout, "next:0,1") {
			break
		}
	}
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < 3 || !regexp.MustCompile(`^GROUP +CONSUMER-ID +HOST +CLIENT-ID +#PARTITIONS +CURRENT-EPOCH +CURRENT-ASSIGNMENT +TARGET-EPOCH +TARGET-ASSIGNMENT +$`).MatchString(lines[1]) {
		t.Fatalf("members:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`^gen +\S+ +\S+ +cn +2 +[1-9][0-9]* +next:0,1 +[1-9][0-9]* +next:0,1 +$`).MatchString(lines[2]) {
		t.Errorf("member row %q", lines[2])
	}
	r = runTool(t, cgArgs(addr, "--describe", "--group", "gen", "--state", "--verbose")...)
	if !regexp.MustCompile(`\ngen +\S+:\d+ +\(\d+\) +\S+ +Stable +[1-9][0-9]* +[1-9][0-9]* +1\n$`).MatchString(r.stdout) {
		t.Errorf("state %q", r.stdout)
	}
	r = runTool(t, cgArgs(addr, "--list", "--type")...)
	if !strings.Contains(r.stdout, "\ngen                       Consumer            \n") {
		t.Errorf("list --type %q", r.stdout)
	}
}
