package cli

// kafka-consumer-groups: Kafka's ConsumerGroupCommand
// (tools/src/main/java/org/apache/kafka/tools/consumer/group).
//
//	kafka-consumer-groups --bootstrap-server HOST:PORT --list [--state [S,S]] [--type [classic,consumer]]
//	kafka-consumer-groups --bootstrap-server HOST:PORT --describe (--group G)... | --all-groups
//	                      [--offsets | --members | --state] [--verbose] [--timeout MS]
//	kafka-consumer-groups --bootstrap-server HOST:PORT --reset-offsets (--group G)... | --all-groups
//	                      --all-topics | (--topic T[:P,P])... SCENARIO [--dry-run | --execute] [--export]
//	    SCENARIO: --to-earliest | --to-latest | --to-current | --to-offset N | --shift-by N
//	              | --to-datetime YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm] | --by-duration PnDTnHnMnS
//	              | --from-file CSV (topic,partition,offset or group,topic,partition,offset lines)
//	kafka-consumer-groups --bootstrap-server HOST:PORT --delete (--group G)... | --all-groups
//	kafka-consumer-groups --bootstrap-server HOST:PORT --delete-offsets --group G (--topic T[:P,P])...
//	kafka-consumer-groups --validate-regex REGEX
//
// Output, as Kafka 4 prints it: tables whose columns are left-aligned and
// padded with Java's "%-Ns" (text columns at least 15 wide, wider when a
// value is longer), each row of the describe and reset tables starting
// with a newline:
//
//	GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID                             HOST            CLIENT-ID
//	app             orders          0          5               7               2               c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1
//	app             orders          1          3               3               0               c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1
//
//	GROUP           CONSUMER-ID                             HOST            CLIENT-ID       #PARTITIONS
//	app             c1-0b5e3c8a-7d4f-4e1b-9a6c-2f8d1e0c7b3a /127.0.0.1      c1              2
//
//	GROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                #MEMBERS
//	app             localhost:9092  (1)       range                Stable               1
//
//	GROUP           TOPIC           PARTITION  NEW-OFFSET
//	app             orders          0          0
//
// Kafka's tool reports failures that happen after the options were
// accepted as "\nError: <message>" on stdout and still exits with status
// 0; this command does the same (option errors exit 1). Where Kafka
// iterates a java.util.HashMap (the plan printed by --reset-offsets, the
// groups named by --delete), the same order is reproduced with
// javaHashOrder, so the lines come out as Kafka prints them.
//
// Groups are described as Kafka 4's admin client does: ConsumerGroupDescribe
// (KIP-848) first, DescribeGroups for classic groups and for brokers without
// ConsumerGroupDescribe. Committed offsets come from OffsetFetch, log end
// offsets from ListOffsets (read_uncommitted, i.e. the high watermark).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-consumer-groups",
		Summary: "List, describe, delete consumer groups or reset their offsets (kafka-consumer-groups.sh).",
		Run:     runConsumerGroups,
	})
}

// missingColumn is what Kafka prints for a value it does not have.
const missingColumn = "-"

// cgOptions are ConsumerGroupCommandOptions.
type cgOptions struct {
	fs                   *FlagSet
	conn                 adminFlags
	groups, topics       *[]string
	timeoutMs            *int64
	toOffset, shiftBy    *int64
	fromFile, toDatetime *string
	byDuration           *string
	state, groupType     *string
	validateRegex        *string
}

// Kafka's option help texts.
const (
	cgDescription  = "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets."
	cgResetOffsets = "Reset offsets of consumer group. Supports one consumer group at the time, and instances should be inactive\n" +
		"Has 2 execution options: --dry-run (the default) to plan which offsets to reset, and --execute to update the offsets. " +
		"Additionally, the --export option is used to export the results to a CSV format.\n" +
		"You must choose one of the following reset specifications: --to-datetime, --by-duration, --to-earliest, " +
		"--to-latest, --shift-by, --from-file, --to-current, --to-offset.\n" +
		"To define the scope use --all-topics or --topic. One scope must be specified unless you use '--from-file'."
	cgResetWarning = "WARN: No action will be performed as the --execute option is missing." +
		"In a future major release, the default behavior of this command will be to prompt the user before " +
		"executing the reset rather than doing a dry run. You should add the --dry-run option explicitly " +
		"if you are scripting this command and want to keep the current default behavior without prompting."
)

// cgActions are the options of which exactly one must be given, in the
// order Kafka names them.
var cgActions = []string{"list", "describe", "delete", "reset-offsets", "delete-offsets", "validate-regex"}

// cgResetScenarios are allResetOffsetScenarioOpts.
var cgResetScenarios = []string{"to-offset", "shift-by", "to-datetime", "by-duration", "to-earliest", "to-latest", "to-current", "from-file"}

func newConsumerGroupsFlags() *cgOptions {
	fs := newFlagSet("kafka-consumer-groups", cgDescription)
	o := &cgOptions{fs: fs}
	o.conn.bootstrap = fs.String("bootstrap-server", "String: server to connect to", "REQUIRED: The server(s) to connect to.")
	o.groups = fs.Strings("group", "String: consumer group", "The consumer group we wish to act on.")
	o.topics = fs.Strings("topic", "String: topic",
		"The topic whose consumer group information should be deleted or topic whose should be included in the reset offset process. "+
			"In `reset-offsets` case, partitions can be specified using this format: `topic1:0,1,2`, where 0,1,2 are the partition to be included in the process. "+
			"Reset-offsets also supports multiple topic inputs.")
	fs.Bool("all-topics", "Consider all topics assigned to a group in the `reset-offsets` process.")
	fs.Bool("list", "List all consumer groups.")
	fs.Bool("describe", "Describe consumer group and list offset lag (number of messages not yet processed) related to given group.")
	fs.Bool("all-groups", "Apply to all consumer groups.")
	fs.Bool("delete", "Pass in groups to delete topic partition offsets and ownership information over the entire consumer group. For instance --group g1 --group g2")
	o.timeoutMs = fs.IntDefault("timeout", "Long: timeout (ms)", 5000,
		"The timeout that can be set for some use cases. For example, it can be used when describing the group "+
			"to specify the maximum amount of time in milliseconds to wait before the group stabilizes (when the group is just created, "+
			"or is going through some changes).")
	o.conn.commandConfig = fs.String("command-config", "String: command config property file",
		"Property file containing configs to be passed to Admin Client and Consumer.")
	fs.Bool("reset-offsets", cgResetOffsets)
	fs.Bool("delete-offsets", "Delete offsets of consumer group. Supports one consumer group at the time, and multiple topics.")
	fs.Bool("dry-run", "Only show results without executing changes on Consumer Groups. Supported operations: reset-offsets.")
	fs.Bool("execute", "Execute operation. Supported operations: reset-offsets.")
	fs.Bool("export", "Export operation execution to a CSV file. Supported operations: reset-offsets.")
	o.toOffset = fs.Int("to-offset", "Long: offset", "Reset offsets to a specific offset.")
	o.fromFile = fs.String("from-file", "String: path to CSV file", "Reset offsets to values defined in CSV file.")
	o.toDatetime = fs.String("to-datetime", "String: datetime", "Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'")
	o.byDuration = fs.String("by-duration", "String: duration", "Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'")
	fs.Bool("to-earliest", "Reset offsets to earliest offset.")
	fs.Bool("to-latest", "Reset offsets to latest offset.")
	fs.Bool("to-current", "Reset offsets to current offset.")
	o.shiftBy = fs.Int("shift-by", "Long: number-of-offsets", "Reset offsets shifting current offset by 'n', where 'n' can be positive or negative.")
	fs.Bool("members", "Describe members of the group. This option may be used with '--describe' and '--bootstrap-server' options only.\n"+
		"Example: --bootstrap-server localhost:9092 --describe --group group1 --members")
	fs.Bool("verbose", "Provide additional information, if any, when describing the group. This option may be used "+
		"with '--offsets'/'--members'/'--state' and '--bootstrap-server' options only.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --members --verbose")
	fs.Bool("offsets", "Describe the group and list all topic partitions in the group along with their offset lag. "+
		"This is the default sub-action of and may be used with '--describe' and '--bootstrap-server' options only.\n"+
		"Example: --bootstrap-server localhost:9092 --describe --group group1 --offsets")
	o.state = fs.String("state", "String (optional)", "When specified with '--describe', includes the state of the group.\n"+
		"Example: --bootstrap-server localhost:9092 --describe --group group1 --state\n"+
		"When specified with '--list', it displays the state of all groups. It can also be used to list groups with specific states.\n"+
		"Example: --bootstrap-server localhost:9092 --list --state stable,empty\n"+
		"This option may be used with '--describe', '--list' and '--bootstrap-server' options only.")
	o.groupType = fs.String("type", "String (optional)", "When specified with '--list', it displays the types of all the groups. It can also be used to list groups with specific types.\n"+
		"Example: --bootstrap-server localhost:9092 --list --type classic,consumer\n"+
		"This option may be used with the '--list' option only.")
	o.validateRegex = fs.String("validate-regex", "String: regex",
		"Validate that the syntax of the provided regular expression is valid according to the RE2 format.")
	return o
}

func runConsumerGroups(ctx context.Context, env *Env, args []string) error {
	o := newConsumerGroupsFlags()
	fs := o.fs
	if len(args) == 0 {
		fs.PrintUsage(env.Stderr)
		return usagef("%s", cgDescription)
	}
	args = optionalValueArgs(fs, args, "state", "type")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if err := o.check(env); err != nil {
		return err
	}
	if fs.Changed("validate-regex") {
		validateRE2(env.Stdout, *o.validateRegex)
		return nil
	}
	props, err := loadClientProps(*o.conn.commandConfig, "--command-config", nil)
	if err != nil {
		return err
	}
	warnUnknownProps(env.Stderr, props, roleAdmin)
	cl, err := newClient(*o.conn.bootstrap, props, roleAdmin)
	if err != nil {
		return err
	}
	defer cl.Close()
	s := &groupService{env: env, cl: cl, adm: kadm.NewClient(cl), o: o, timeout: time.Duration(*o.timeoutMs) * time.Millisecond}
	switch {
	case fs.Changed("list"):
		err = s.listGroups(ctx)
	case fs.Changed("describe"):
		err = s.describeGroups(ctx)
	case fs.Changed("delete"):
		err = s.deleteGroups(ctx)
	case fs.Changed("reset-offsets"):
		err = s.resetOffsets(ctx)
	case fs.Changed("delete-offsets"):
		err = s.deleteOffsets(ctx)
	}
	var f *cgFailure
	if errors.As(err, &f) && ctx.Err() == nil {
		// ConsumerGroupCommand.printError with the exception's stack
		// trace (its first line here) on stderr; the command returns
		// normally.
		fmt.Fprintf(env.Stdout, "\nError: Executing consumer group command failed due to %s\n", f.msg)
		fmt.Fprintln(env.Stderr, f.javaLine)
		return nil
	}
	return err
}

// optionalValueArgs rewrites the options named, which take an optional
// value in Kafka (joptsimple's withOptionalArg), to the --name=value form
// that FlagSet parses: the argument after the option is its value unless
// it looks like an option. A bare option becomes "--name=" (given, no value).
func optionalValueArgs(fs *FlagSet, args []string, names ...string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			out = append(out, a)
			continue
		}
		long := strings.HasPrefix(a, "--")
		name := strings.TrimLeft(a, "-")
		_, _, hasValue := strings.Cut(name, "=")
		o, err := fs.lookup(name, long)
		if err != nil || hasValue {
			out = append(out, a) // Parse reports the error
			continue
		}
		switch {
		case slices.Contains(names, o.name):
			if i+1 < len(args) && !looksLikeOption(args[i+1]) {
				out = append(out, "--"+o.name+"="+args[i+1])
				i++
			} else {
				out = append(out, "--"+o.name+"=")
			}
		case o.kind != optBool && i+1 < len(args):
			out = append(out, a, args[i+1])
			i++
		default:
			out = append(out, a)
		}
	}
	return out
}

// looksLikeOption is joptsimple's test for an argument that is an option
// rather than the value of one.
func looksLikeOption(s string) bool { return len(s) > 1 && s[0] == '-' }

// check applies ConsumerGroupCommandOptions.checkArgs and the action
// check of ConsumerGroupCommand.main, in their order and words.
func (o *cgOptions) check(env *Env) error {
	fs := o.fs
	// joptsimple's availableIf, checked while parsing.
	var unavailable []string
	for _, c := range []struct {
		name  string
		given []string // available if any of these is given
	}{
		{"members", []string{"describe"}},
		{"verbose", []string{"describe"}},
		{"offsets", []string{"describe"}},
		{"state", []string{"describe", "list"}},
		{"type", []string{"list"}},
	} {
		if fs.Changed(c.name) && len(fs.Given(c.given...)) == 0 {
			unavailable = append(unavailable, "["+c.name+"]")
		}
	}
	if len(unavailable) > 0 {
		return usagef("Option(s) %s are unavailable given other options on the command line", strings.Join(unavailable, ", "))
	}
	if !fs.Changed("validate-regex") && strings.TrimSpace(*o.conn.bootstrap) == "" {
		return usagef("Missing required argument \"[bootstrap-server]\"")
	}
	groupScope := "[group], [all-groups]"
	if fs.Changed("describe") {
		if !fs.Changed("group") && !fs.Changed("all-groups") {
			return usagef("Option [describe] takes one of these options: %s", groupScope)
		}
		if len(fs.Given("members", "offsets", "state")) > 1 {
			return usagef("Option [describe] takes at most one of these options: [members], [offsets], [state]")
		}
		if fs.Changed("state") && *o.state != "" {
			return usagef("Option [describe] does not take a value for [state]")
		}
	}
	if fs.Changed("delete") {
		if !fs.Changed("group") && !fs.Changed("all-groups") {
			return usagef("Option [delete] takes one of these options: %s", groupScope)
		}
		if fs.Changed("topic") {
			return usagef("The consumer does not support topic-specific offset deletion from a consumer group.")
		}
	}
	if fs.Changed("delete-offsets") && (!fs.Changed("group") || !fs.Changed("topic")) {
		return usagef("Option [delete-offsets] takes the following options: [group], [topic]")
	}
	if fs.Changed("reset-offsets") {
		if fs.Changed("dry-run") && fs.Changed("execute") {
			return usagef("Option [reset-offsets] only accepts one of [execute] and [dry-run]")
		}
		if !fs.Changed("dry-run") && !fs.Changed("execute") {
			fmt.Fprintln(env.Stderr, cgResetWarning)
		}
		if !fs.Changed("group") && !fs.Changed("all-groups") {
			return usagef("Option [reset-offsets] takes one of these options: %s", groupScope)
		}
		for _, used := range cgResetScenarios {
			if err := invalidWith(fs, used, cgResetScenarios...); err != nil {
				return err
			}
		}
	}
	if err := invalidWith(fs, "group", "all-groups"); err != nil {
		return err
	}
	if err := invalidWith(fs, "group", "list"); err != nil {
		return err
	}
	if err := invalidWith(fs, "topic", "list", "describe"); err != nil {
		return err
	}
	if len(fs.Given(cgActions...)) != 1 {
		names := make([]string, len(cgActions))
		for i, a := range cgActions {
			names[i] = "--" + a
		}
		return usagef("Command must include exactly one action: %s", strings.Join(names, ", "))
	}
	return nil
}

// invalidWith is CommandLineUtils.checkInvalidArgs: used may not appear
// with any of invalid (used itself is skipped).
func invalidWith(fs *FlagSet, used string, invalid ...string) error {
	if !fs.Changed(used) {
		return nil
	}
	for _, n := range invalid {
		if n != used && fs.Changed(n) {
			return usagef("Option \"[%s]\" can't be used with option \"[%s]\"", used, n)
		}
	}
	return nil
}

// validateRE2 is ConsumerGroupCommand.validateRegex. Go's regexp and the
// RE2/J library Kafka uses are both ports of RE2, with the same syntax and
// the same error descriptions.
func validateRE2(w io.Writer, re string) {
	if _, err := syntax.Parse(re, syntax.Perl); err != nil {
		desc := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			desc = string(se.Code)
		}
		fmt.Fprintf(w, "The regular expression `%s` is invalid: %s.\n", re, desc)
		return
	}
	fmt.Fprintf(w, "The regular expression `%s` is valid.\n", re)
}

// cgFailure is a failure ConsumerGroupCommand reports as "Error:
// Executing consumer group command failed due to <msg>": msg is what
// Java's getMessage() gives for the exception Kafka's tool catches, and
// javaLine the first line of its stack trace.
type cgFailure struct {
	msg      string
	javaLine string
	err      error
}

func (e *cgFailure) Error() string { return e.msg }
func (e *cgFailure) Unwrap() error { return e.err }

// javaException is a failure that Kafka's client or tool raises as the
// named Java exception class.
type javaException struct {
	class string
	msg   string
}

func (e *javaException) Error() string { return e.msg }

// timeoutError is the TimeoutException Kafka's admin client raises when
// --timeout passes before a call completes.
type timeoutError struct{ call string }

func (e *timeoutError) Error() string {
	return "Timed out waiting for a node assignment. Call: " + e.call
}

// exceptionString is Java's Throwable.toString for the exception a Kafka
// client would raise for err: "<class>: <message>".
func exceptionString(err error) string {
	var je *javaException
	if errors.As(err, &je) {
		return je.class + ": " + je.msg
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return "org.apache.kafka.common.errors.TimeoutException: " + te.Error()
	}
	return javaErrorString(err)
}

// exceptionMessage is getMessage() of that exception.
func exceptionMessage(err error) string {
	s := exceptionString(err)
	if i := strings.Index(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// failDirect is a failure for an exception the tool lets through as is
// (getMessage() is the exception's own message).
func failDirect(err error) error {
	return &cgFailure{msg: exceptionMessage(err), javaLine: exceptionString(err), err: err}
}

// failExec is a failure for an ExecutionException wrapping err, as from
// KafkaFuture.get (getMessage() is the cause's toString()).
func failExec(err error) error {
	return &cgFailure{msg: exceptionString(err), javaLine: "java.util.concurrent.ExecutionException: " + exceptionString(err), err: err}
}

// failWrapped is a failure for a RuntimeException wrapping an
// ExecutionException wrapping err, as the tool's helpers throw.
func failWrapped(err error) error {
	msg := "java.util.concurrent.ExecutionException: " + exceptionString(err)
	return &cgFailure{msg: msg, javaLine: "java.lang.RuntimeException: " + msg, err: err}
}

// groupService runs one kafka-consumer-groups action.
type groupService struct {
	env     *Env
	cl      *kgo.Client
	adm     *kadm.Client
	o       *cgOptions
	timeout time.Duration

	apiKeys    map[int16]int16     // max version by API key, from ApiVersions; nil until asked
	topicNames map[[16]byte]string // topic names by ID, from Metadata; nil until needed
}

// call returns the context for one admin call: Kafka applies --timeout to
// each call separately.
func (s *groupService) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// retry runs one admin call: fn, again while it fails with a retriable
// Kafka error (a coordinator loading or moving, a leader changing), until
// it succeeds, fails otherwise, or --timeout passes, as Kafka's admin
// client does. fn gets the call's context.
func (s *groupService) retry(ctx context.Context, call string, fn func(cctx context.Context) error) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		err := fn(cctx)
		var netErr net.Error
		retriable := kerr.IsRetriable(err) || errors.As(err, &netErr) // a broker not reachable (yet)
		if err == nil || !retriable || ctx.Err() != nil {
			return callErr(ctx, err, call)
		}
		select {
		case <-cctx.Done():
			return callErr(ctx, cctx.Err(), call)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// callErr turns a request error into what Kafka's admin client reports:
// the --timeout deadline passing (ctx, the command's context, still
// live) becomes its TimeoutException.
func callErr(ctx context.Context, err error, call string) error {
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return &timeoutError{call: call}
	}
	return err
}

// supports reports whether the broker serves the API key (ApiVersions).
func (s *groupService) supports(ctx context.Context, key int16) bool {
	if s.apiKeys == nil {
		s.apiKeys = map[int16]int16{}
		cctx, cancel := s.call(ctx)
		defer cancel()
		resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(cctx, s.cl)
		if err == nil {
			for _, k := range resp.ApiKeys {
				s.apiKeys[k.ApiKey] = k.MaxVersion
			}
		}
	}
	_, ok := s.apiKeys[key]
	return ok
}

// topicPartition is Kafka's TopicPartition; String is its toString.
type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string { return tp.topic + "-" + strconv.Itoa(int(tp.partition)) }

// javaHash is TopicPartition.hashCode.
func (tp topicPartition) javaHash() uint32 {
	return 31*(31+uint32(tp.partition)) + javaStringHash(tp.topic)
}

func compareTopicPartitions(a, b topicPartition) int {
	if c := strings.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return int(a.partition) - int(b.partition)
}

// javaHashOrder returns the indexes of distinct keys with the given Java
// hashCodes, inserted in index order, in the order a java.util.HashMap
// with default settings iterates them: by bucket (hash ^ hash>>>16 masked
// by the capacity, 16 doubled while size > 0.75*capacity), and within a
// bucket in insertion order.
func javaHashOrder(hashes []uint32) []int {
	capacity := 16
	for len(hashes) > capacity*3/4 {
		capacity *= 2
	}
	order := make([]int, len(hashes))
	bucket := make([]uint32, len(hashes))
	for i, h := range hashes {
		order[i] = i
		bucket[i] = (h ^ h>>16) & uint32(capacity-1)
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(bucket[a]) - int(bucket[b]) })
	return order
}

// stringsInHashOrder returns keys (distinct) in java.util.HashMap order.
func stringsInHashOrder(keys []string) []string {
	hashes := make([]uint32, len(keys))
	for i, k := range keys {
		hashes[i] = javaStringHash(k)
	}
	out := make([]string, len(keys))
	for i, j := range javaHashOrder(hashes) {
		out[i] = keys[j]
	}
	return out
}

// partitionsInHashOrder returns tps (distinct) in java.util.HashMap order.
func partitionsInHashOrder(tps []topicPartition) []topicPartition {
	hashes := make([]uint32, len(tps))
	for i, tp := range tps {
		hashes[i] = tp.javaHash()
	}
	out := make([]topicPartition, len(tps))
	for i, j := range javaHashOrder(hashes) {
		out[i] = tps[j]
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// ---- --list ----

// groupStateNames are Kafka's GroupState names (toString), keyed by their
// upper-case form as GroupState.parse looks them up.
var groupStateNames = map[string]string{
	"UNKNOWN": "Unknown", "PREPARINGREBALANCE": "PreparingRebalance", "COMPLETINGREBALANCE": "CompletingRebalance",
	"STABLE": "Stable", "DEAD": "Dead", "EMPTY": "Empty", "ASSIGNING": "Assigning", "RECONCILING": "Reconciling",
	"NOTREADY": "NotReady",
}

// parseGroupState is GroupState.parse: case-insensitive, "Unknown" for
// anything else.
func parseGroupState(s string) string {
	if n, ok := groupStateNames[strings.ToUpper(s)]; ok {
		return n
	}
	return "Unknown"
}

// consumerGroupStates are GroupState.groupStatesForType(CONSUMER).
var consumerGroupStates = []string{"PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty", "Assigning", "Reconciling"}

// parseGroupType is GroupType.parse.
func parseGroupType(s string) string {
	switch strings.ToLower(s) {
	case "consumer":
		return "Consumer"
	case "classic":
		return "Classic"
	case "share":
		return "Share"
	case "streams":
		return "Streams"
	}
	return "Unknown"
}

// groupStatesFromString is ConsumerGroupCommand.groupStatesFromString.
func groupStatesFromString(input string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(input, ",") {
		st := parseGroupState(strings.TrimSpace(s))
		if !slices.Contains(consumerGroupStates, st) {
			return nil, usagef("Invalid state list '%s'. Valid states are: %s", input, strings.Join(consumerGroupStates, ", "))
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out, nil
}

// groupTypesFromString is ConsumerGroupCommand.consumerGroupTypesFromString.
func groupTypesFromString(input string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(strings.ToLower(input), ",") {
		t := parseGroupType(strings.TrimSpace(s))
		if t != "Classic" && t != "Consumer" {
			return nil, usagef("Invalid types list '%s'. Valid types are: Classic, Consumer", input)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// groupListing is Kafka's GroupListing.
type groupListing struct {
	id           string
	protocolType string
	state        string // GroupState name, "" if the broker did not say
	groupType    string // GroupType name, "" if the broker did not say
}

// listConsumerGroupListings lists the consumer groups (protocol type
// "consumer" or "", as ListGroupsOptions.forConsumerGroups) of every
// broker, filtered by the broker on types and states, in broker order.
func (s *groupService) listConsumerGroupListings(ctx context.Context, types, states []string) ([]groupListing, error) {
	var out []groupListing
	err := s.retry(ctx, "listGroups", func(cctx context.Context) error {
		out = nil
		req := kmsg.NewPtrListGroupsRequest()
		req.TypesFilter = types
		req.StatesFilter = states
		shards := s.cl.RequestSharded(cctx, req)
		slices.SortFunc(shards, func(a, b kgo.ResponseShard) int { return int(a.Meta.NodeID) - int(b.Meta.NodeID) })
		for _, sh := range shards {
			if sh.Err != nil {
				return sh.Err
			}
			resp := sh.Resp.(*kmsg.ListGroupsResponse)
			if err := newBrokerError(resp.ErrorCode, nil); err != nil {
				return err
			}
			for _, g := range resp.Groups {
				if g.ProtocolType != "consumer" && g.ProtocolType != "" {
					continue
				}
				out = append(out, groupListing{id: g.Group, protocolType: g.ProtocolType, state: g.GroupState, groupType: g.GroupType})
			}
		}
		return nil
	})
	return out, err
}

// listConsumerGroups is ConsumerGroupService.listConsumerGroups: the ids
// of all consumer groups.
func (s *groupService) listConsumerGroups(ctx context.Context) ([]string, error) {
	ls, err := s.listConsumerGroupListings(ctx, []string{"Classic", "Consumer"}, nil)
	if err != nil {
		return nil, failWrapped(err)
	}
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.id
	}
	return ids, nil
}

func (s *groupService) listGroups(ctx context.Context) error {
	includeType := s.o.fs.Changed("type")
	includeState := s.o.fs.Changed("state")
	w := s.env.Stdout
	if !includeType && !includeState {
		ids, err := s.listConsumerGroups(ctx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			fmt.Fprintln(w, id)
		}
		return nil
	}
	var types, states []string
	var err error
	if *s.o.groupType != "" {
		if types, err = groupTypesFromString(*s.o.groupType); err != nil {
			return err
		}
	}
	if *s.o.state != "" {
		if states, err = groupStatesFromString(*s.o.state); err != nil {
			return err
		}
	}
	ls, err := s.listConsumerGroupListings(ctx, types, states)
	if err != nil {
		return failExec(err)
	}
	width := 15
	for _, l := range ls {
		width = max(width, jlen(l.id))
	}
	format := "%-" + strconv.Itoa(width+10) + "s"
	header := []any{"GROUP"}
	if includeType {
		format += " %-20s"
		header = append(header, "TYPE")
	}
	if includeState {
		format += " %-20s"
		header = append(header, "STATE")
	}
	format += "\n"
	fmt.Fprintf(w, format, header...)
	for _, l := range ls {
		row := []any{l.id}
		if includeType {
			row = append(row, parseGroupType(l.groupType))
		}
		if includeState {
			row = append(row, parseGroupState(l.state))
		}
		fmt.Fprintf(w, format, row...)
	}
	return nil
}

// ---- describing groups ----

// groupDescription is Kafka's ConsumerGroupDescription.
type groupDescription struct {
	id          string
	coordinator kgo.BrokerMetadata
	assignor    string // partitionAssignor
	state       string // GroupState name
	members     []memberDescription
	groupEpoch  *int32 // consumer groups only
	targetEpoch *int32 // consumer groups only
}

// memberDescription is Kafka's MemberDescription.
type memberDescription struct {
	memberID   string
	instanceID string // "" if none
	clientID   string
	host       string
	assignment []topicPartition
	target     []topicPartition // nil: none (classic members)
	epoch      *int32           // consumer groups only
	upgraded   *bool            // consumer groups only, when the broker says
}

// describedGroups is the outcome of describing groups: each asked group
// has a description or a failure.
type describedGroups struct {
	ids    []string // asked, distinct, in order
	groups map[string]*groupDescription
	errs   map[string]error
}

// inHashOrder returns the described groups in the order Kafka's tool
// iterates the admin client's result (a HashMap keyed by group id).
func (d *describedGroups) inHashOrder() []string { return stringsInHashOrder(d.ids) }

// firstError is what describeConsumerGroups(ids) throws: the first
// failure in iteration order.
func (d *describedGroups) firstError() error {
	for _, id := range d.inHashOrder() {
		if err := d.errs[id]; err != nil {
			return err
		}
	}
	return nil
}

// describeConsumerGroups describes groups as Kafka's admin client does.
func (s *groupService) describeConsumerGroups(ctx context.Context, ids []string) (*describedGroups, error) {
	ids = dedupe(ids)
	d := &describedGroups{ids: ids}
	if len(ids) == 0 {
		return d, nil
	}
	useKIP848 := s.supports(ctx, 69) // ConsumerGroupDescribe
	err := s.retry(ctx, "describeConsumerGroups", func(cctx context.Context) error {
		d.groups, d.errs = map[string]*groupDescription{}, map[string]error{}
		if err := s.describeOnce(cctx, d, useKIP848); err != nil {
			return err
		}
		// A coordinator still loading or moving: ask again.
		for _, id := range ids {
			if err := d.errs[id]; kerr.IsRetriable(err) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// describeOnce describes d.ids into d.groups and d.errs.
func (s *groupService) describeOnce(cctx context.Context, d *describedGroups, useKIP848 bool) error {
	classic := d.ids
	notFoundMsg := map[string]*string{}
	if useKIP848 {
		classic = nil
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = d.ids
		for _, sh := range s.cl.RequestSharded(cctx, req) {
			if sh.Err != nil {
				return sh.Err
			}
			for _, g := range sh.Resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
				switch g.ErrorCode {
				case 0:
					if err := s.nameAssignedTopics(cctx, &g); err != nil {
						return err
					}
					d.groups[g.Group] = consumerGroupDescription(sh.Meta, &g)
				case kerr.GroupIDNotFound.Code, kerr.UnsupportedVersion.Code:
					// Not a KIP-848 group: ask DescribeGroups, and keep
					// this answer's message, which says more.
					classic = append(classic, g.Group)
					if g.ErrorCode == kerr.GroupIDNotFound.Code {
						notFoundMsg[g.Group] = g.ErrorMessage
					}
				default:
					d.errs[g.Group] = newBrokerError(g.ErrorCode, g.ErrorMessage)
				}
			}
		}
	}
	if len(classic) > 0 {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = classic
		for _, sh := range s.cl.RequestSharded(cctx, req) {
			if sh.Err != nil {
				return sh.Err
			}
			for _, g := range sh.Resp.(*kmsg.DescribeGroupsResponse).Groups {
				if g.ErrorCode != 0 {
					msg := g.ErrorMessage
					if m, ok := notFoundMsg[g.Group]; ok && g.ErrorCode == kerr.GroupIDNotFound.Code && m != nil {
						msg = m
					}
					d.errs[g.Group] = newBrokerError(g.ErrorCode, msg)
					continue
				}
				if g.ProtocolType != "consumer" && g.ProtocolType != "" {
					d.errs[g.Group] = &javaException{class: "java.lang.IllegalArgumentException",
						msg: fmt.Sprintf("GroupId %s is not a consumer group (%s).", g.Group, g.ProtocolType)}
					continue
				}
				desc, err := classicGroupDescription(sh.Meta, &g)
				if err != nil {
					d.errs[g.Group] = err
					continue
				}
				d.groups[g.Group] = desc
			}
		}
	}
	for _, id := range d.ids {
		if d.groups[id] == nil && d.errs[id] == nil {
			d.errs[id] = &javaException{class: "java.lang.IllegalStateException", msg: "No response for group " + id}
		}
	}
	return nil
}

// nameAssignedTopics fills in the topic names of a ConsumerGroupDescribe
// answer that gave only topic IDs.
func (s *groupService) nameAssignedTopics(ctx context.Context, g *kmsg.ConsumerGroupDescribeResponseGroup) error {
	var unnamed []*kmsg.AssignmentTopicPartition
	for i := range g.Members {
		for _, a := range []*kmsg.Assignment{&g.Members[i].Assignment, &g.Members[i].TargetAssignment} {
			for j := range a.TopicPartitions {
				if a.TopicPartitions[j].Topic == "" {
					unnamed = append(unnamed, &a.TopicPartitions[j])
				}
			}
		}
	}
	if len(unnamed) == 0 {
		return nil
	}
	if s.topicNames == nil {
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, s.cl)
		if err != nil {
			return err
		}
		s.topicNames = map[[16]byte]string{}
		for _, t := range resp.Topics {
			if t.Topic != nil {
				s.topicNames[t.TopicID] = *t.Topic
			}
		}
	}
	for _, tp := range unnamed {
		tp.Topic = s.topicNames[tp.TopicID]
	}
	return nil
}

func consumerGroupDescription(coordinator kgo.BrokerMetadata, g *kmsg.ConsumerGroupDescribeResponseGroup) *groupDescription {
	d := &groupDescription{
		id:          g.Group,
		coordinator: coordinator,
		assignor:    g.AssignorName,
		state:       parseGroupState(g.State),
		groupEpoch:  &g.Epoch,
		targetEpoch: &g.AssignmentEpoch,
	}
	for _, m := range g.Members {
		md := memberDescription{
			memberID:   m.MemberID,
			clientID:   m.ClientID,
			host:       m.ClientHost,
			assignment: assignmentPartitions(m.Assignment),
			target:     assignmentPartitions(m.TargetAssignment),
			epoch:      &m.MemberEpoch,
		}
		if md.target == nil {
			md.target = []topicPartition{}
		}
		if m.InstanceID != nil {
			md.instanceID = *m.InstanceID
		}
		if m.MemberType != -1 {
			up := m.MemberType == 1
			md.upgraded = &up
		}
		d.members = append(d.members, md)
	}
	return d
}

func assignmentPartitions(a kmsg.Assignment) []topicPartition {
	var out []topicPartition
	for _, t := range a.TopicPartitions {
		for _, p := range t.Partitions {
			out = append(out, topicPartition{t.Topic, p})
		}
	}
	return out
}

func classicGroupDescription(coordinator kgo.BrokerMetadata, g *kmsg.DescribeGroupsResponseGroup) (*groupDescription, error) {
	d := &groupDescription{id: g.Group, coordinator: coordinator, assignor: g.Protocol, state: parseGroupState(g.State)}
	for _, m := range g.Members {
		md := memberDescription{memberID: m.MemberID, clientID: m.ClientID, host: m.ClientHost}
		if m.InstanceID != nil {
			md.instanceID = *m.InstanceID
		}
		if len(m.MemberAssignment) > 0 {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.MemberAssignment); err != nil {
				return nil, &javaException{class: "org.apache.kafka.common.protocol.types.SchemaException",
					msg: "Error reading field 'assigned_partitions': " + err.Error()}
			}
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					md.assignment = append(md.assignment, topicPartition{t.Topic, p})
				}
			}
		}
		d.members = append(d.members, md)
	}
	return d, nil
}

// describeAll is ConsumerGroupService.describeConsumerGroups: every group
// described, or the first failure (an ExecutionException).
func (s *groupService) describeAll(ctx context.Context, ids []string) (*describedGroups, error) {
	d, err := s.describeConsumerGroups(ctx, ids)
	if err != nil {
		return nil, failExec(err)
	}
	if err := d.firstError(); err != nil {
		return nil, failExec(err)
	}
	return d, nil
}

// groupIDs are the groups an action applies to: --all-groups or --group.
func (s *groupService) groupIDs(ctx context.Context) ([]string, error) {
	if s.o.fs.Changed("all-groups") {
		return s.listConsumerGroups(ctx)
	}
	return *s.o.groups, nil
}

// shouldPrintMemberState is ConsumerGroupService.shouldPrintMemberState;
// rows < 0 means "no information".
func shouldPrintMemberState(env *Env, group, state string, rows int) (bool, error) {
	if rows < 0 {
		fmt.Fprintf(env.Stdout, "\nError: The consumer group '%s' does not exist.\n", group)
		return false, nil
	}
	switch state {
	case "Dead":
		fmt.Fprintf(env.Stdout, "\nError: Consumer group '%s' does not exist.\n", group)
	case "Empty":
		fmt.Fprintf(env.Stderr, "\nConsumer group '%s' has no active members.\n", group)
	case "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling":
		fmt.Fprintf(env.Stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", group)
	case "Stable":
	default:
		return false, failDirect(&javaException{class: "org.apache.kafka.common.KafkaException",
			msg: fmt.Sprintf("Expected a valid consumer group state, but found '%s'.", state)})
	}
	return state != "Dead" && rows > 0, nil
}

func (s *groupService) describeGroups(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	fs := s.o.fs
	verbose := fs.Changed("verbose")
	switch {
	case fs.Changed("members"):
		return s.describeMembers(ctx, ids, verbose)
	case fs.Changed("state"):
		return s.describeStates(ctx, ids, verbose)
	default:
		return s.describeOffsets(ctx, ids, verbose)
	}
}

// committedOffset is an OffsetAndMetadata; offset -1 means none.
type committedOffset struct {
	offset      int64
	leaderEpoch int32
}

// committedOffsets is listConsumerGroupOffsets for one group, all
// partitions.
func (s *groupService) committedOffsets(ctx context.Context, group string) (map[topicPartition]committedOffset, error) {
	var out map[topicPartition]committedOffset
	err := s.retry(ctx, "listConsumerGroupOffsets", func(cctx context.Context) error {
		resps, err := s.adm.FetchOffsets(cctx, group)
		if err != nil {
			return err
		}
		out = map[topicPartition]committedOffset{}
		var firstErr error
		resps.Each(func(r kadm.OffsetResponse) {
			if r.Err != nil {
				if firstErr == nil {
					firstErr = r.Err
				}
				return
			}
			out[topicPartition{r.Topic, r.Partition}] = committedOffset{offset: r.At, leaderEpoch: r.LeaderEpoch}
		})
		return firstErr
	})
	return out, err
}

// topicInfo is what describeTopics tells about one topic.
type topicInfo struct {
	partitions map[int32]int32 // partition → leader (-1: none)
	err        error
}

// describeTopics fetches the partitions of topics; a topic that does not
// exist carries Kafka's UnknownTopicOrPartitionException.
func (s *groupService) describeTopics(ctx context.Context, topics []string) (map[string]*topicInfo, error) {
	out := map[string]*topicInfo{}
	topics = dedupe(topics)
	if len(topics) == 0 {
		return out, nil
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(cctx, s.cl)
	if err != nil {
		return nil, callErr(ctx, err, "describeTopics")
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil {
			continue
		}
		ti := &topicInfo{partitions: map[int32]int32{}}
		if rt.ErrorCode != 0 {
			ti.err = newBrokerError(rt.ErrorCode, nil)
		}
		for _, p := range rt.Partitions {
			ti.partitions[p.Partition] = p.Leader
		}
		out[*rt.Topic] = ti
	}
	for _, t := range topics {
		if out[t] == nil {
			out[t] = &topicInfo{err: newBrokerError(kerr.UnknownTopicOrPartition.Code, nil)}
		}
	}
	return out, nil
}

// describeTopicsAll is describeTopics(...).allTopicNames().get(): the
// first topic that failed fails the call.
func (s *groupService) describeTopicsAll(ctx context.Context, topics []string) (map[string]*topicInfo, error) {
	infos, err := s.describeTopics(ctx, topics)
	if err != nil {
		return nil, err
	}
	for _, t := range dedupe(topics) {
		if infos[t].err != nil {
			return nil, infos[t].err
		}
	}
	return infos, nil
}

// listOffsets is Admin.listOffsets for one spec (-2 earliest, -1 latest,
// or a timestamp) at read_uncommitted, all().get(): any failed partition
// fails the call.
func (s *groupService) listOffsets(ctx context.Context, tps []topicPartition, spec int64) (map[topicPartition]int64, error) {
	out := map[topicPartition]int64{}
	if len(tps) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	byTopic := map[string]int{}
	for _, tp := range tps {
		i, ok := byTopic[tp.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[tp.topic] = i
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tp.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = tp.partition
		rp.Timestamp = spec
		rp.CurrentLeaderEpoch = -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	err := s.retry(ctx, "listOffsets", func(cctx context.Context) error {
		for _, sh := range s.cl.RequestSharded(cctx, req) {
			if sh.Err != nil {
				return sh.Err
			}
			for _, rt := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
				for _, rp := range rt.Partitions {
					if err := newBrokerError(rp.ErrorCode, nil); err != nil {
						return err
					}
					out[topicPartition{rt.Topic, rp.Partition}] = rp.Offset
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// offsetRow is one row of the offsets view (PartitionAssignmentState),
// already formatted.
type offsetRow struct {
	group, topic, partition, leaderEpoch, offset, logEnd, lag, consumerID, host, clientID string
}

// describePartitions is ConsumerGroupService.describePartitions: rows for
// tps, sorted by topic and partition.
func (s *groupService) describePartitions(ctx context.Context, group string, tps []topicPartition,
	committed map[topicPartition]committedOffset, consumerID, host, clientID string) ([]offsetRow, error) {
	var topics []string
	for _, tp := range tps {
		topics = append(topics, tp.topic)
	}
	infos, err := s.describeTopicsAll(ctx, topics)
	if err != nil {
		return nil, failWrapped(err)
	}
	var withLeader []topicPartition
	for _, tp := range tps {
		if leader, ok := infos[tp.topic].partitions[tp.partition]; !ok || leader >= 0 {
			withLeader = append(withLeader, tp)
		}
	}
	ends, err := s.listOffsets(ctx, withLeader, -1)
	if err != nil {
		return nil, failWrapped(err)
	}
	rows := make([]offsetRow, 0, len(tps))
	for _, tp := range slices.SortedFunc(slices.Values(tps), compareTopicPartitions) {
		r := offsetRow{group: group, topic: tp.topic, partition: strconv.Itoa(int(tp.partition)),
			leaderEpoch: missingColumn, offset: missingColumn, logEnd: missingColumn, lag: missingColumn,
			consumerID: consumerID, host: host, clientID: clientID}
		c, hasOffset := committed[tp]
		if hasOffset && c.offset >= 0 {
			r.offset = strconv.FormatInt(c.offset, 10)
			if c.leaderEpoch >= 0 {
				r.leaderEpoch = strconv.Itoa(int(c.leaderEpoch))
			}
		}
		if end, ok := ends[tp]; ok {
			r.logEnd = strconv.FormatInt(end, 10)
			if hasOffset && c.offset >= 0 {
				r.lag = strconv.FormatInt(end-c.offset, 10)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (s *groupService) describeOffsets(ctx context.Context, ids []string, verbose bool) error {
	d, err := s.describeAll(ctx, ids)
	if err != nil {
		return err
	}
	var collected []groupOffsets
	for _, id := range d.inHashOrder() {
		g := d.groups[id]
		committed, err := s.committedOffsets(ctx, id)
		if err != nil {
			return failWrapped(err)
		}
		var rows []offsetRow
		assigned := map[topicPartition]bool{}
		members := slices.Clone(g.members)
		slices.SortStableFunc(members, func(a, b memberDescription) int { return len(b.assignment) - len(a.assignment) })
		for _, m := range members {
			if len(m.assignment) == 0 {
				continue
			}
			for _, tp := range m.assignment {
				assigned[tp] = true
			}
			r, err := s.describePartitions(ctx, id, m.assignment, committed, m.memberID, m.host, m.clientID)
			if err != nil {
				return err
			}
			rows = append(rows, r...)
		}
		var unassigned []topicPartition
		for tp := range committed {
			if !assigned[tp] {
				unassigned = append(unassigned, tp)
			}
		}
		if len(unassigned) > 0 {
			r, err := s.describePartitions(ctx, id, unassigned, committed, missingColumn, missingColumn, missingColumn)
			if err != nil {
				return err
			}
			rows = append(rows, r...)
		}
		collected = append(collected, groupOffsets{id: id, state: g.state, rows: rows})
	}
	slices.SortFunc(collected, func(a, b groupOffsets) int { return strings.Compare(a.id, b.id) })
	return printOffsets(s.env, collected, verbose)
}

// groupOffsets is one group of the offsets view.
type groupOffsets struct {
	id, state string
	rows      []offsetRow
}

// printOffsets prints the offsets view (printOffsets and
// printOffsetFormat) of groups, in the order given (Kafka's: by group id).
func printOffsets(env *Env, groups []groupOffsets, verbose bool) error {
	w := env.Stdout
	for _, gr := range groups {
		ok, err := shouldPrintMemberState(env, gr.id, gr.state, len(gr.rows))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		groupW, topicW, consumerW, hostW := 15, 15, 15, 15
		for _, r := range gr.rows {
			groupW, topicW = max(groupW, jlen(r.group)), max(topicW, jlen(r.topic))
			consumerW, hostW = max(consumerW, jlen(r.consumerID)), max(hostW, jlen(r.host))
		}
		var format string
		if verbose {
			format = fmt.Sprintf("\n%%-%ds %%-%ds %%-10s %%-15s %%-15s %%-15s %%-15s %%-%ds %%-%ds %%s", groupW, topicW, consumerW, hostW)
			fmt.Fprintf(w, format, "GROUP", "TOPIC", "PARTITION", "LEADER-EPOCH", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
		} else {
			format = fmt.Sprintf("\n%%-%ds %%-%ds %%-10s %%-15s %%-15s %%-15s %%-%ds %%-%ds %%s", groupW, topicW, consumerW, hostW)
			fmt.Fprintf(w, format, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
		}
		for _, r := range gr.rows {
			if verbose {
				fmt.Fprintf(w, format, r.group, r.topic, r.partition, r.leaderEpoch, r.offset, r.logEnd, r.lag, r.consumerID, r.host, r.clientID)
			} else {
				fmt.Fprintf(w, format, r.group, r.topic, r.partition, r.offset, r.logEnd, r.lag, r.consumerID, r.host, r.clientID)
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// assignmentString is ConsumerGroupService.getAssignmentString:
// "topic:0,1;other:2", topics sorted, partitions sorted.
func assignmentString(tps []topicPartition) string {
	if len(tps) == 0 {
		return missingColumn
	}
	byTopic := map[string][]int32{}
	for _, tp := range tps {
		byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
	}
	var parts []string
	for t, ps := range byTopic {
		slices.Sort(ps)
		nums := make([]string, len(ps))
		for i, p := range ps {
			nums[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t+":"+strings.Join(nums, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

func optInt32(p *int32) string {
	if p == nil {
		return missingColumn
	}
	return strconv.Itoa(int(*p))
}

func (s *groupService) describeMembers(ctx context.Context, ids []string, verbose bool) error {
	d, err := s.describeAll(ctx, ids)
	if err != nil {
		return err
	}
	return printMembers(s.env, d, verbose)
}

// printMembers is ConsumerGroupService.printMembers, groups by id.
func printMembers(env *Env, d *describedGroups, verbose bool) error {
	w := env.Stdout
	for _, id := range slices.Sorted(slices.Values(d.ids)) {
		g := d.groups[id]
		groupW, consumerW, instanceW, hostW, clientW, currentW, targetW := 15, 15, 17, 15, 15, 20, 20
		includeInstance, hasClassic, hasConsumer := false, false, false
		ok, err := shouldPrintMemberState(env, id, g.state, len(g.members))
		if err != nil {
			return err
		}
		if ok {
			for _, m := range g.members {
				groupW, consumerW = max(groupW, jlen(id)), max(consumerW, jlen(m.memberID))
				instanceW, hostW, clientW = max(instanceW, jlen(m.instanceID)), max(hostW, jlen(m.host)), max(clientW, jlen(m.clientID))
				includeInstance = includeInstance || m.instanceID != ""
				currentW = max(currentW, jlen(assignmentString(m.assignment)))
				targetW = max(targetW, jlen(assignmentString(m.target)))
				if m.upgraded != nil {
					hasClassic = hasClassic || !*m.upgraded
					hasConsumer = hasConsumer || *m.upgraded
				}
			}
		}
		withInstance := fmt.Sprintf("%%-%ds %%-%ds %%-%ds %%-%ds %%-%ds %%-15s ", groupW, consumerW, instanceW, hostW, clientW)
		withoutInstance := fmt.Sprintf("%%-%ds %%-%ds %%-%ds %%-%ds %%-15s ", groupW, consumerW, hostW, clientW)
		withUpgrade := fmt.Sprintf("%%-15s %%-%ds %%-15s %%-%ds %%s", currentW, targetW)
		withoutUpgrade := fmt.Sprintf("%%-15s %%-%ds %%-15s %%-%ds", currentW, targetW)
		migrating := hasClassic && hasConsumer
		if includeInstance {
			fmt.Fprintf(w, "\n"+withInstance, "GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS")
		} else {
			fmt.Fprintf(w, "\n"+withoutInstance, "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS")
		}
		if verbose {
			if migrating {
				fmt.Fprintf(w, withUpgrade, "CURRENT-EPOCH", "CURRENT-ASSIGNMENT", "TARGET-EPOCH", "TARGET-ASSIGNMENT", "UPGRADED")
			} else {
				fmt.Fprintf(w, withoutUpgrade, "CURRENT-EPOCH", "CURRENT-ASSIGNMENT", "TARGET-EPOCH", "TARGET-ASSIGNMENT")
			}
		}
		fmt.Fprintln(w)
		for _, m := range g.members {
			if includeInstance {
				fmt.Fprintf(w, withInstance, id, m.memberID, m.instanceID, m.host, m.clientID, strconv.Itoa(len(m.assignment)))
			} else {
				fmt.Fprintf(w, withoutInstance, id, m.memberID, m.host, m.clientID, strconv.Itoa(len(m.assignment)))
			}
			if verbose {
				targetEpoch := g.targetEpoch
				if migrating {
					up := missingColumn
					if m.upgraded != nil {
						up = strconv.FormatBool(*m.upgraded)
					}
					fmt.Fprintf(w, withUpgrade, optInt32(m.epoch), assignmentString(m.assignment), optInt32(targetEpoch), assignmentString(m.target), up)
				} else {
					fmt.Fprintf(w, withoutUpgrade, optInt32(m.epoch), assignmentString(m.assignment), optInt32(targetEpoch), assignmentString(m.target))
				}
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

func (s *groupService) describeStates(ctx context.Context, ids []string, verbose bool) error {
	d, err := s.describeAll(ctx, ids)
	if err != nil {
		return err
	}
	return printStates(s.env, d, verbose)
}

// printStates is ConsumerGroupService.printStates, groups by id.
func printStates(env *Env, d *describedGroups, verbose bool) error {
	w := env.Stdout
	for _, id := range slices.Sorted(slices.Values(d.ids)) {
		g := d.groups[id]
		ok, err := shouldPrintMemberState(env, id, g.state, 1)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		coordinator := fmt.Sprintf("%s:%d  (%d)", g.coordinator.Host, g.coordinator.Port, g.coordinator.NodeID)
		coordW, groupW := max(25, jlen(coordinator)), max(15, jlen(id))
		strategy := g.assignor
		if strategy == "" {
			strategy = missingColumn
		}
		if verbose {
			format := fmt.Sprintf("\n%%-%ds %%-%ds %%-20s %%-20s %%-15s %%-25s %%s", groupW, coordW)
			fmt.Fprintf(w, format, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "GROUP-EPOCH", "TARGET-ASSIGNMENT-EPOCH", "#MEMBERS")
			fmt.Fprintf(w, format, id, coordinator, strategy, g.state, optInt32(g.groupEpoch), optInt32(g.targetEpoch), strconv.Itoa(len(g.members)))
		} else {
			format := fmt.Sprintf("\n%%-%ds %%-%ds %%-20s %%-20s %%s", groupW, coordW)
			fmt.Fprintf(w, format, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")
			fmt.Fprintf(w, format, id, coordinator, strategy, g.state, strconv.Itoa(len(g.members)))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// ---- --delete ----

func (s *groupService) deleteGroups(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	ids = dedupe(ids)
	results := map[string]error{}
	pending := ids
	// Groups whose coordinator is loading or moving are asked again.
	_ = s.retry(ctx, "deleteConsumerGroups", func(cctx context.Context) error {
		if len(pending) == 0 {
			return nil
		}
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = pending
		pending = nil
		var retriable error
		for _, sh := range s.cl.RequestSharded(cctx, req) {
			var answered []string
			if sh.Err != nil {
				answered = sh.Req.(*kmsg.DeleteGroupsRequest).Groups
				for _, g := range answered {
					results[g] = callErr(ctx, sh.Err, "deleteConsumerGroups")
				}
			} else {
				for _, g := range sh.Resp.(*kmsg.DeleteGroupsResponse).Groups {
					results[g.Group] = newBrokerError(g.ErrorCode, g.ErrorMessage)
					answered = append(answered, g.Group)
				}
			}
			for _, g := range answered {
				if kerr.IsRetriable(results[g]) {
					pending = append(pending, g)
					retriable = results[g]
				}
			}
		}
		return retriable
	})
	for _, g := range pending {
		if kerr.IsRetriable(results[g]) && ctx.Err() == nil {
			results[g] = &timeoutError{call: "deleteConsumerGroups"}
		}
	}
	printDeleteGroups(s.env.Stdout, ids, results)
	return nil
}

// printDeleteGroups prints the outcome of --delete: results has an
// error (nil: deleted) for each group of ids that was answered.
func printDeleteGroups(w io.Writer, ids []string, results map[string]error) {
	var succeeded, failed []string
	for _, g := range stringsInHashOrder(ids) {
		if err, ok := results[g]; !ok || err != nil {
			failed = append(failed, g)
		} else {
			succeeded = append(succeeded, g)
		}
	}
	succeeded, failed = stringsInHashOrder(succeeded), stringsInHashOrder(failed)
	quoted := func(gs []string) string {
		q := make([]string, len(gs))
		for i, g := range gs {
			q[i] = "'" + g + "'"
		}
		return strings.Join(q, ", ")
	}
	if len(failed) == 0 {
		fmt.Fprintf(w, "Deletion of requested consumer groups (%s) was successful.\n", quoted(succeeded))
		return
	}
	fmt.Fprintln(w, "\nError: Deletion of some consumer groups failed:")
	for _, g := range failed {
		err := results[g]
		if err == nil {
			err = &javaException{class: "java.lang.IllegalStateException", msg: "No response for group " + g}
		}
		fmt.Fprintf(w, "* Group '%s' could not be deleted due to: %s\n", g, exceptionString(err))
	}
	if len(succeeded) > 0 {
		fmt.Fprintf(w, "\nThese consumer groups were deleted successfully: %s\n", quoted(succeeded))
	}
}

// ---- --delete-offsets ----

// parseTopicWithPartitions is GroupOffsetsResetter.parseTopicsWithPartitions
// for "topic:0,1,2".
func parseTopicWithPartitions(arg string) ([]topicPartition, error) {
	parts := splitDropTrailing(arg, ":")
	if len(parts) != 2 {
		return nil, usagef("Invalid topic arg '%s', expected topic name and partitions", arg)
	}
	var out []topicPartition
	for _, p := range splitDropTrailing(parts[1], ",") {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, usagef("Invalid partition '%s' specified in topic arg '%s''", p, arg)
		}
		out = append(out, topicPartition{parts[0], int32(n)})
	}
	return out, nil
}

// splitDropTrailing is Java's String.split with a literal separator: trailing
// empty strings are dropped.
func splitDropTrailing(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

func (s *groupService) deleteOffsets(ctx context.Context) error {
	groups := *s.o.groups
	if len(groups) > 1 {
		return failDirect(&javaException{class: "joptsimple.MultipleArgumentsForOptionException",
			msg: "Found multiple arguments for option group, but you asked for only one"})
	}
	group := groups[0]
	results := map[topicPartition]error{}
	var partitions []topicPartition
	var plainTopics []string
	for _, t := range *s.o.topics {
		if strings.Contains(t, ":") {
			tps, err := parseTopicWithPartitions(t)
			if err != nil {
				return err
			}
			partitions = append(partitions, tps...)
		} else {
			plainTopics = append(plainTopics, t)
		}
	}
	infos, err := s.describeTopics(ctx, plainTopics)
	if err != nil {
		return failDirect(err)
	}
	for _, t := range dedupe(plainTopics) {
		ti := infos[t]
		if ti.err != nil {
			results[topicPartition{t, -1}] = ti.err
			continue
		}
		for _, p := range slices.Sorted(maps.Keys(ti.partitions)) {
			partitions = append(partitions, topicPartition{t, p})
		}
	}
	partitions = slices.CompactFunc(slices.SortedFunc(slices.Values(partitions), compareTopicPartitions),
		func(a, b topicPartition) bool { return a == b })

	// Admin.deleteConsumerGroupOffsets: a group-level error fails every
	// partition; all() fails with the first partition error otherwise.
	var topLevel error
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = group
	byTopic := map[string]int{}
	for _, tp := range partitions {
		i, ok := byTopic[tp.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[tp.topic] = i
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = tp.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewOffsetDeleteRequestTopicPartition()
		rp.Partition = tp.partition
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	var resp *kmsg.OffsetDeleteResponse
	topLevel = s.retry(ctx, "deleteConsumerGroupOffsets", func(cctx context.Context) error {
		var err error
		if resp, err = req.RequestWith(cctx, s.cl); err != nil {
			return err
		}
		return newBrokerError(resp.ErrorCode, nil)
	})
	partErrs := map[topicPartition]error{}
	if topLevel == nil {
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				partErrs[topicPartition{rt.Topic, rp.Partition}] = newBrokerError(rp.ErrorCode, nil)
			}
		}
		for _, tp := range partitionsInHashOrder(partitions) {
			if partErrs[tp] != nil {
				topLevel = partErrs[tp]
				break
			}
		}
		for _, tp := range partitions {
			results[tp] = partErrs[tp]
		}
	} else {
		for _, tp := range partitions {
			results[tp] = topLevel
		}
	}

	printDeleteOffsets(s.env.Stdout, group, topLevel, results)
	return nil
}

// printDeleteOffsets prints the outcome of --delete-offsets: the
// top-level error and each partition's (partition -1: a whole topic).
func printDeleteOffsets(w io.Writer, group string, topLevel error, results map[topicPartition]error) {
	code := errorCode(topLevel)
	switch code {
	case 0:
		fmt.Fprintf(w, "Request succeeded for deleting offsets from group %s.\n", group)
	case kerr.InvalidGroupID.Code, kerr.GroupIDNotFound.Code, kerr.GroupAuthorizationFailed.Code, kerr.NonEmptyGroup.Code:
		fmt.Fprintf(w, "\nError: %s\n", apiErrorMessage(code, nil))
	case kerr.GroupSubscribedToTopic.Code, kerr.TopicAuthorizationFailed.Code, kerr.UnknownTopicOrPartition.Code:
		fmt.Fprintln(w, "\nError: Encountered some partition-level error, see the follow-up details.")
	default:
		fmt.Fprintf(w, "\nError: Encountered some unknown error: %s\n", errorName(code))
	}
	topicW := 15
	for tp := range results {
		topicW = max(topicW, jlen(tp.topic))
	}
	format := fmt.Sprintf("\n%%-%ds %%-10s %%-15s", topicW)
	fmt.Fprintf(w, format, "TOPIC", "PARTITION", "STATUS")
	keys := slices.Collect(maps.Keys(results))
	slices.SortFunc(keys, func(a, b topicPartition) int {
		return strings.Compare(a.topic+strconv.Itoa(int(a.partition)), b.topic+strconv.Itoa(int(b.partition)))
	})
	for _, tp := range keys {
		partition := missingColumn
		if tp.partition >= 0 {
			partition = strconv.Itoa(int(tp.partition))
		}
		status := "Successful"
		if err := results[tp]; err != nil {
			status = "Error: " + exceptionString(err)
		}
		fmt.Fprintf(w, format, tp.topic, partition, status)
	}
	fmt.Fprintln(w)
}

// errorCode is Errors.forException: the Kafka error code of err (0 for
// nil, REQUEST_TIMED_OUT for timeouts, UNKNOWN_SERVER_ERROR otherwise).
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var be *brokerError
	if errors.As(err, &be) {
		return be.Code
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}

// errorName is the name of Kafka's Errors constant for code.
func errorName(code int16) string {
	var ke *kerr.Error
	if errors.As(kerr.ErrorForCode(code), &ke) {
		return ke.Message
	}
	return "UNKNOWN_SERVER_ERROR"
}

// ---- --reset-offsets ----

// plannedOffset is one line of a reset plan.
type plannedOffset struct {
	tp     topicPartition
	offset int64
}

// resetPlan is the offsets to reset for each group, in Kafka's order.
type resetPlan struct {
	groups []string
	byID   map[string][]plannedOffset
}

func (s *groupService) resetOffsets(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	d, err := s.describeConsumerGroups(ctx, ids)
	if err != nil {
		return failWrapped(err)
	}
	plan := &resetPlan{byID: map[string][]plannedOffset{}}
	var fileCache *fileResetPlan
	for _, id := range d.inHashOrder() {
		plan.groups = append(plan.groups, id)
		state := ""
		if err := d.errs[id]; err != nil {
			if !errors.Is(err, kerr.GroupIDNotFound) {
				return failWrapped(err)
			}
			state = "Dead"
		} else {
			state = d.groups[id].state
		}
		if state != "Empty" && state != "Dead" {
			fmt.Fprintf(s.env.Stdout, "\nError: Assignments can only be reset if the group '%s' is inactive, but the current state is %s.\n", id, state)
			continue
		}
		offsets, err := s.resetInactiveGroup(ctx, id, &fileCache)
		if err != nil {
			return err
		}
		plan.byID[id] = offsets
	}
	if s.o.fs.Changed("export") {
		printCSV(s.env.Stdout, plan, len(*s.o.groups) == 1)
		return nil
	}
	printPlan(s.env.Stdout, plan)
	return nil
}

// printPlan is GroupOffsetsResetter.printOffsetsToReset.
func printPlan(w io.Writer, plan *resetPlan) {
	groupW, topicW := 15, 15
	for _, g := range plan.groups {
		groupW = max(groupW, jlen(g))
		for _, p := range plan.byID[g] {
			topicW = max(topicW, jlen(p.tp.topic))
		}
	}
	format := fmt.Sprintf("\n%%-%ds %%-%ds %%-10s %%s", groupW, topicW)
	if len(plan.groups) > 0 {
		fmt.Fprintf(w, format, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
	}
	for _, g := range plan.groups {
		for _, p := range plan.byID[g] {
			fmt.Fprintf(w, format, g, p.tp.topic, strconv.Itoa(int(p.tp.partition)), strconv.FormatInt(p.offset, 10))
		}
	}
	fmt.Fprintln(w)
}

// printCSV is exportOffsetsToCsv followed by println: one record a line,
// without the group when exactly one --group was given.
func printCSV(w io.Writer, plan *resetPlan, single bool) {
	var b strings.Builder
	for _, g := range plan.groups {
		for _, p := range plan.byID[g] {
			if !single {
				b.WriteString(csvField(g) + ",")
			}
			fmt.Fprintf(&b, "%s,%d,%d\n", csvField(p.tp.topic), p.tp.partition, p.offset)
		}
	}
	fmt.Fprintln(w, b.String())
}

// csvField quotes a value as Jackson's CSV writer does when it must.
func csvField(v string) string {
	if strings.ContainsAny(v, ",\"\r\n") || (v != "" && (v[0] == '#' || v[0] == ' ' || v[len(v)-1] == ' ')) {
		return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
	}
	return v
}

// resetInactiveGroup is resetOffsetsForInactiveGroup: the group's plan,
// committed when --execute was given.
func (s *groupService) resetInactiveGroup(ctx context.Context, group string, fileCache **fileResetPlan) ([]plannedOffset, error) {
	parts, err := s.partitionsToReset(ctx, group)
	if err != nil {
		return nil, err
	}
	offsets, err := s.prepareOffsets(ctx, group, parts, fileCache)
	if err != nil {
		return nil, err
	}
	if s.o.fs.Changed("execute") && !s.o.fs.Changed("dry-run") {
		var os kadm.Offsets
		for _, p := range offsets {
			os.Add(kadm.Offset{Topic: p.tp.topic, Partition: p.tp.partition, At: p.offset, LeaderEpoch: -1})
		}
		err := s.retry(ctx, "alterConsumerGroupOffsets", func(cctx context.Context) error {
			resps, err := s.adm.CommitOffsets(cctx, group, os)
			if err != nil {
				return err
			}
			return resps.Error()
		})
		if err != nil {
			return nil, failDirect(err)
		}
	}
	return offsets, nil
}

// partitionsToReset is getPartitionsToReset: --all-topics (the group's
// committed partitions) or --topic, or nothing with --from-file.
func (s *groupService) partitionsToReset(ctx context.Context, group string) ([]topicPartition, error) {
	fs := s.o.fs
	switch {
	case fs.Changed("all-topics"):
		committed, err := s.committedOffsets(ctx, group)
		if err != nil {
			return nil, failWrapped(err)
		}
		return slices.SortedFunc(maps.Keys(committed), compareTopicPartitions), nil
	case fs.Changed("topic"):
		var specified []topicPartition
		var topics []string
		for _, t := range *s.o.topics {
			if strings.Contains(t, ":") {
				tps, err := parseTopicWithPartitions(t)
				if err != nil {
					return nil, err
				}
				specified = append(specified, tps...)
			} else {
				topics = append(topics, t)
			}
		}
		if len(topics) > 0 {
			infos, err := s.describeTopicsAll(ctx, topics)
			if err != nil {
				return nil, failDirect(err)
			}
			for _, t := range dedupe(topics) {
				for _, p := range slices.Sorted(maps.Keys(infos[t].partitions)) {
					specified = append(specified, topicPartition{t, p})
				}
			}
		}
		return specified, nil
	default:
		if !fs.Changed("from-file") {
			return nil, usagef("One of the reset scopes should be defined: --all-topics, --topic.")
		}
		return nil, nil
	}
}

// checkPartitionsValid is GroupOffsetsResetter.checkAllTopicPartitionsValid.
func (s *groupService) checkPartitionsValid(ctx context.Context, parts []topicPartition) error {
	var topics []string
	for _, tp := range parts {
		topics = append(topics, tp.topic)
	}
	infos, err := s.describeTopicsAll(ctx, topics)
	if err != nil {
		return failWrapped(err)
	}
	var missing, leaderless []string
	for _, tp := range parts {
		leader, ok := infos[tp.topic].partitions[tp.partition]
		switch {
		case !ok:
			missing = append(missing, tp.String())
		case leader < 0:
			leaderless = append(leaderless, tp.String())
		}
	}
	if len(missing) > 0 {
		return failDirect(&brokerError{Code: kerr.UnknownTopicOrPartition.Code,
			Message: fmt.Sprintf("The partitions \"%s\" do not exist", strings.Join(missing, ","))})
	}
	if len(leaderless) > 0 {
		return failDirect(&brokerError{Code: kerr.LeaderNotAvailable.Code,
			Message: fmt.Sprintf("The partitions \"%s\" have no leader", strings.Join(leaderless, ","))})
	}
	return nil
}

// prepareOffsets is prepareOffsetsToReset: the new offset of each
// partition for the scenario given, in HashMap order.
func (s *groupService) prepareOffsets(ctx context.Context, group string, parts []topicPartition, fileCache **fileResetPlan) ([]plannedOffset, error) {
	fs := s.o.fs
	parts = dedupePartitions(parts)
	if err := s.checkPartitionsValid(ctx, parts); err != nil {
		return nil, err
	}
	fromSpec := func(spec int64, what string) ([]plannedOffset, error) {
		got, err := s.listOffsets(ctx, parts, spec)
		if err != nil {
			return nil, failWrapped(err)
		}
		var out []plannedOffset
		for _, tp := range parts {
			off, ok := got[tp]
			if !ok {
				return nil, usagef("Error getting %s offset of topic partition: %s", what, tp)
			}
			out = append(out, plannedOffset{tp, off})
		}
		return inHashOrder(out), nil
	}
	switch {
	case fs.Changed("to-offset"):
		req := make([]plannedOffset, len(parts))
		for i, tp := range parts {
			req[i] = plannedOffset{tp, *s.o.toOffset}
		}
		return s.checkOffsetsRange(ctx, req)
	case fs.Changed("to-earliest"):
		return fromSpec(-2, "starting")
	case fs.Changed("to-latest"):
		return fromSpec(-1, "ending")
	case fs.Changed("shift-by"):
		committed, err := s.committedOffsets(ctx, group)
		if err != nil {
			return nil, failWrapped(err)
		}
		req := make([]plannedOffset, len(parts))
		for i, tp := range parts {
			c, ok := committed[tp]
			if !ok || c.offset < 0 {
				return nil, usagef("Cannot shift offset for partition %s since there is no current committed offset", tp)
			}
			req[i] = plannedOffset{tp, c.offset + *s.o.shiftBy}
		}
		return s.checkOffsetsRange(ctx, req)
	case fs.Changed("to-datetime"):
		ts, err := parseKafkaDateTime(*s.o.toDatetime)
		if err != nil {
			return nil, failWrapped2(err) // RuntimeException(ParseException)
		}
		return s.offsetsForTimestamp(ctx, parts, ts)
	case fs.Changed("by-duration"):
		d, err := parseISODuration(*s.o.byDuration)
		if err != nil {
			return nil, failDirect(err)
		}
		return s.offsetsForTimestamp(ctx, parts, time.Now().Add(-d).UnixMilli())
	case fs.Changed("from-file"):
		if *fileCache == nil {
			p, err := s.readResetPlan(*s.o.fromFile)
			if err != nil {
				return nil, err
			}
			*fileCache = p
		}
		planned, ok := (*fileCache).byGroup[group]
		if !ok {
			fmt.Fprintf(s.env.Stdout, "\nError: No reset plan for group %s found.\n", group)
			return nil, nil
		}
		return s.checkOffsetsRange(ctx, planned)
	case fs.Changed("to-current"):
		committed, err := s.committedOffsets(ctx, group)
		if err != nil {
			return nil, failWrapped(err)
		}
		var out []plannedOffset
		var without []topicPartition
		for _, tp := range parts {
			if c, ok := committed[tp]; ok && c.offset >= 0 {
				out = append(out, plannedOffset{tp, c.offset})
			} else {
				without = append(without, tp)
			}
		}
		ends, err := s.listOffsets(ctx, without, -1)
		if err != nil {
			return nil, failWrapped(err)
		}
		for _, tp := range without {
			end, ok := ends[tp]
			if !ok {
				return nil, failDirect(&javaException{class: "java.lang.IllegalStateException", msg: "Error getting ending offset of topic partition: " + tp.String()})
			}
			out = append(out, plannedOffset{tp, end})
		}
		return inHashOrder(out), nil
	}
	return nil, usagef("Option '[reset-offsets]' requires one of the following scenarios: [%s]", "["+strings.Join(cgResetScenarios, "], [")+"]")
}

func dedupePartitions(tps []topicPartition) []topicPartition {
	seen := map[topicPartition]bool{}
	var out []topicPartition
	for _, tp := range tps {
		if !seen[tp] {
			seen[tp] = true
			out = append(out, tp)
		}
	}
	return out
}

// inHashOrder orders a plan as a HashMap<TopicPartition, …> built from it
// in this order iterates.
func inHashOrder(ps []plannedOffset) []plannedOffset {
	hashes := make([]uint32, len(ps))
	for i, p := range ps {
		hashes[i] = p.tp.javaHash()
	}
	out := make([]plannedOffset, len(ps))
	for i, j := range javaHashOrder(hashes) {
		out[i] = ps[j]
	}
	return out
}

// checkOffsetsRange is GroupOffsetsResetter.checkOffsetsRange: offsets
// past the log end become the log end, offsets before the log start the
// log start, each with Kafka's warning.
func (s *groupService) checkOffsetsRange(ctx context.Context, requested []plannedOffset) ([]plannedOffset, error) {
	requested = inHashOrder(requested)
	tps := make([]topicPartition, len(requested))
	for i, p := range requested {
		tps[i] = p.tp
	}
	starts, err := s.listOffsets(ctx, tps, -2)
	if err != nil {
		return nil, failWrapped(err)
	}
	ends, err := s.listOffsets(ctx, tps, -1)
	if err != nil {
		return nil, failWrapped(err)
	}
	out := make([]plannedOffset, 0, len(requested))
	for _, p := range requested {
		end, ok := ends[p.tp]
		if !ok {
			return nil, failDirect(&javaException{class: "java.lang.IllegalStateException",
				msg: "Unexpected non-existing offset value for topic partition " + p.tp.String()})
		}
		switch start, hasStart := starts[p.tp]; {
		case p.offset > end:
			fmt.Fprintf(s.env.Stderr, "WARN New offset (%d) is higher than latest offset for topic partition %s. Value will be set to %d.\n", p.offset, p.tp, end)
			p.offset = end
		case hasStart && p.offset < start:
			fmt.Fprintf(s.env.Stderr, "WARN New offset (%d) is lower than earliest offset for topic partition %s. Value will be set to %d.\n", p.offset, p.tp, start)
			p.offset = start
		}
		out = append(out, p)
	}
	return out, nil
}

// offsetsForTimestamp is getLogTimestampOffsets: the first offset at or
// after ts; partitions without one fall back to the log end, with Kafka's
// warning on stdout.
func (s *groupService) offsetsForTimestamp(ctx context.Context, parts []topicPartition, ts int64) ([]plannedOffset, error) {
	got, err := s.listOffsets(ctx, parts, ts)
	if err != nil {
		return nil, failWrapped(err)
	}
	var out []plannedOffset
	var empty []topicPartition
	for _, tp := range parts {
		if off, ok := got[tp]; ok && off != -1 {
			out = append(out, plannedOffset{tp, off})
		} else {
			empty = append(empty, tp)
		}
	}
	for _, tp := range partitionsInHashOrder(empty) {
		fmt.Fprintf(s.env.Stdout, "\nWarn: Partition %d from topic %s is empty. Falling back to latest known offset.\n", tp.partition, tp.topic)
	}
	ends, err := s.listOffsets(ctx, empty, -1)
	if err != nil {
		return nil, failWrapped(err)
	}
	for _, tp := range empty {
		end, ok := ends[tp]
		if !ok {
			return nil, usagef("Error getting offset by timestamp of topic partition: %s", tp)
		}
		out = append(out, plannedOffset{tp, end})
	}
	return inHashOrder(out), nil
}

// fileResetPlan is a parsed --from-file CSV.
type fileResetPlan struct {
	byGroup map[string][]plannedOffset
}

// readResetPlan reads --from-file as GroupOffsetsResetter.parseResetPlan:
// "topic,partition,offset" lines apply to the one --group given;
// otherwise every line is "group,topic,partition,offset".
func (s *groupService) readResetPlan(path string) (*fileResetPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		class := "java.io.IOException"
		msg := err.Error()
		if errors.Is(err, os.ErrNotExist) {
			class, msg = "java.nio.file.NoSuchFileException", path
		}
		return nil, failWrapped2(&javaException{class: class, msg: msg})
	}
	return parseResetPlan(string(b), *s.o.groups)
}

// failWrapped2 is a failure for a RuntimeException wrapping err directly
// (getMessage() is err's toString()).
func failWrapped2(err error) error {
	return &cgFailure{msg: exceptionString(err), javaLine: "java.lang.RuntimeException: " + exceptionString(err), err: err}
}

func parseResetPlan(csv string, groups []string) (*fileResetPlan, error) {
	lines := splitDropTrailing(csv, "\n")
	plan := &fileResetPlan{byGroup: map[string][]plannedOffset{}}
	old := false
	if len(lines) > 0 {
		_, _, _, err := parseCSVRecord(lines[0], 3)
		old = err == nil
	}
	add := func(group string, tp topicPartition, off int64) {
		ps := plan.byGroup[group]
		for i := range ps {
			if ps[i].tp == tp {
				ps[i].offset = off
				return
			}
		}
		plan.byGroup[group] = append(ps, plannedOffset{tp, off})
	}
	for _, line := range lines {
		if len(groups) == 1 && old {
			fields, p, off, err := parseCSVRecord(line, 3)
			if err != nil {
				return nil, failWrapped2(err)
			}
			add(groups[0], topicPartition{fields[0], p}, off)
			continue
		}
		fields, p, off, err := parseCSVRecord(line, 4)
		if err != nil {
			return nil, failWrapped2(err)
		}
		add(fields[0], topicPartition{fields[1], p}, off)
	}
	return plan, nil
}

// parseCSVRecord parses one CSV line of n columns whose last two are a
// partition (int) and an offset (long), as Jackson's CSV reader would.
func parseCSVRecord(line string, n int) (fields []string, partition int32, offset int64, err error) {
	line = strings.TrimSuffix(line, "\r")
	fields, ok := splitCSVLine(line)
	bad := func(why string) error {
		return &javaException{class: "com.fasterxml.jackson.dataformat.csv.CsvReadException", msg: why}
	}
	switch {
	case !ok:
		return nil, 0, 0, bad("Missing closing quote for value")
	case len(fields) > n:
		return nil, 0, 0, bad(fmt.Sprintf("Too many entries: expected at most %d (value #%d (%d chars) \"%s\")", n, n, len(fields[n]), fields[n]))
	}
	// Jackson leaves missing trailing columns at their defaults ("" and 0).
	for len(fields) < n {
		fields = append(fields, "")
	}
	num := func(s string) string {
		if s == "" {
			return "0"
		}
		return s
	}
	p, err := strconv.ParseInt(num(fields[n-2]), 10, 32)
	if err != nil {
		return nil, 0, 0, &javaException{class: "com.fasterxml.jackson.databind.exc.InvalidFormatException",
			msg: fmt.Sprintf("Cannot deserialize value of type `int` from String \"%s\": not a valid `int` value", fields[n-2])}
	}
	o, err := strconv.ParseInt(num(fields[n-1]), 10, 64)
	if err != nil {
		return nil, 0, 0, &javaException{class: "com.fasterxml.jackson.databind.exc.InvalidFormatException",
			msg: fmt.Sprintf("Cannot deserialize value of type `long` from String \"%s\": not a valid `long` value", fields[n-1])}
	}
	return fields, int32(p), o, nil
}

// splitCSVLine splits a CSV line on commas, honouring double quotes.
func splitCSVLine(line string) ([]string, bool) {
	var fields []string
	var b strings.Builder
	inQuotes := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(line) && line[i+1] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			inQuotes = !inQuotes
		case c == ',' && !inQuotes:
			fields = append(fields, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	fields = append(fields, b.String())
	return fields, !inQuotes
}

// parseKafkaDateTime is Kafka's Utils.getDateTime: "yyyy-MM-dd'T'HH:mm:ss.SSS"
// followed by a zone ("Z", "+hh:mm", or "+hh" as the fallback pattern
// reads it); without a zone the time is UTC. Parsing is strict about
// field ranges, as SimpleDateFormat with setLenient(false), and, like
// DateFormat.parse, ignores text after the zone.
func parseKafkaDateTime(s string) (int64, error) {
	parts := splitDropTrailing(s, "T")
	if len(parts) < 2 {
		return 0, &javaException{class: "java.text.ParseException",
			msg: "Error parsing timestamp. It does not contain a 'T' according to ISO8601 format"}
	}
	if !strings.ContainsAny(parts[1], "+-Z") {
		s += "Z"
	}
	unparseable := &javaException{class: "java.text.ParseException", msg: fmt.Sprintf("Unparseable date: \"%s\"", s)}
	m := dateTimeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, unparseable
	}
	num := func(i int) int {
		n, err := strconv.Atoi(m[i])
		if err != nil {
			return -1
		}
		return n
	}
	year, month, day, hour, minute, sec, milli := num(1), num(2), num(3), num(4), num(5), num(6), num(7)
	if year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 || milli > 999 || hour < 0 || minute < 0 || sec < 0 || milli < 0 {
		return 0, unparseable
	}
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return 0, unparseable
	}
	zone := m[8]
	offset := 0
	switch {
	case zone[0] == 'Z':
	case len(zone) >= 6 && zone[3] == ':' && isDigits(zone[1:3]) && isDigits(zone[4:6]):
		h, _ := strconv.Atoi(zone[1:3])
		mm, _ := strconv.Atoi(zone[4:6])
		if h > 23 || mm > 59 {
			return 0, unparseable
		}
		offset = h*3600 + mm*60
	case len(zone) >= 3 && isDigits(zone[1:3]): // the fallback pattern's X: hours only
		h, _ := strconv.Atoi(zone[1:3])
		if h > 23 {
			return 0, unparseable
		}
		offset = h * 3600
	default:
		return 0, unparseable
	}
	if zone[0] == '-' {
		offset = -offset
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, milli*int(time.Millisecond), time.UTC)
	return t.Add(-time.Duration(offset) * time.Second).UnixMilli(), nil
}

var dateTimeRE = regexp.MustCompile(`^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)(Z.*|[+-].*)$`)

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// isoDurationRE is java.time.Duration's pattern: PnDTnHnMn.nS, each
// number optionally signed, the whole optionally negated.
var isoDurationRE = regexp.MustCompile(`(?i)^([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// parseISODuration is java.time.Duration.parse.
func parseISODuration(s string) (time.Duration, error) {
	bad := &javaException{class: "java.time.format.DateTimeParseException", msg: "Text cannot be parsed to a Duration"}
	m := isoDurationRE.FindStringSubmatch(s)
	if m == nil || strings.EqualFold(m[3], "T") || (m[2] == "" && m[3] == "") {
		return 0, bad
	}
	var total time.Duration
	for i, unit := range map[int]time.Duration{2: 24 * time.Hour, 4: time.Hour, 5: time.Minute, 6: time.Second} {
		if m[i] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i], 10, 64)
		if err != nil {
			return 0, bad
		}
		total += time.Duration(n) * unit
	}
	if frac := m[7]; frac != "" {
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if strings.HasPrefix(m[6], "-") {
			ns = -ns
		}
		total += time.Duration(ns)
	}
	if m[1] == "-" {
		total = -total
	}
	return total, nil
}

// jlen is Java's String.length (UTF-16 code units), which Kafka's column
// widths are computed from; Go's fmt pads by runes, the same count for
// every character outside the supplementary planes.
func jlen(s string) int { return len(utf16.Encode([]rune(s))) }
