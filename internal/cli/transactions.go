package cli

// kafka-transactions: Kafka's TransactionsCommand (KIP-664), to inspect
// transactions and recover from hanging ones.
//
//	kafka-transactions --bootstrap-server H:P [--command-config F] COMMAND [options]
//	  list                                   ListTransactions on every broker
//	  describe --transactional-id ID         DescribeTransactions at its coordinator
//	  describe-producers --topic T --partition N [--broker-id B]
//	                                         DescribeProducers at the leader (or B)
//	  abort --topic T --partition N (--start-offset O |
//	        --producer-id P --producer-epoch E --coordinator-epoch C)
//	                                         an abort marker (WriteTxnMarkers) at the leader
//	  find-hanging (--topic T [--partition N] | --broker-id B) [--max-transaction-timeout MIN]
//	                                         open transactions older than the timeout
//	                                         that their coordinator does not know
//
// Output is Kafka's table: a header row and one row per item, each column
// padded to its widest value and followed by a tab. Failures print
// "<what failed>: <error message>. Enable debug logging for additional
// detail." on stderr and exit 1, as Kafka's tool does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-transactions",
		Summary: "List, describe and abort transactions; find hanging ones (kafka-transactions.sh).",
		Run:     runTransactions,
	})
}

// transactionsNow is the clock of durations (tests replace it).
var transactionsNow = time.Now

const transactionsDescription = "This tool is used to analyze the transactional state of producers in the cluster. It can be used to detect and recover from hanging transactions."

// Table headers of Kafka's TransactionsCommand.
var (
	listTransactionsHeaders     = []string{"TransactionalId", "Coordinator", "ProducerId", "TransactionState"}
	describeTransactionsHeaders = []string{"CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch", "TransactionState",
		"TransactionTimeoutMs", "CurrentTransactionStartTimeMs", "TransactionDurationMs", "TopicPartitions"}
	describeProducersHeaders = []string{"ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence",
		"LastTimestamp", "CurrentTransactionStartOffset"}
	hangingTransactionsHeaders = []string{"Topic", "Partition", "ProducerId", "ProducerEpoch", "CoordinatorEpoch",
		"StartOffset", "LastTimestamp", "Duration(min)"}
)

// txnCommands are the subcommands, in Kafka's order.
var txnCommands = []string{"list", "describe", "describe-producers", "abort", "find-hanging"}

func runTransactions(ctx context.Context, env *Env, args []string) error {
	// Global options come before the command, its own after it.
	split := len(args)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			split = i
			break
		}
		if (a == "--bootstrap-server" || a == "--command-config") && i+1 < len(args) {
			i++
		}
	}
	fs := newFlagSet("kafka-transactions", transactionsDescription+
		"\n\nCommands: list, describe, describe-producers, abort, find-hanging; run 'kafka-transactions COMMAND --help' for each one's options.")
	conn := addAdminFlags(fs)
	if help, err := fs.Parse(env, args[:split]); help || err != nil {
		return err
	}
	if split == len(args) {
		return usagef("too few arguments: a command is required (one of %s)", strings.Join(txnCommands, ", "))
	}
	command, rest := args[split], args[split+1:]
	if !slices.Contains(txnCommands, command) {
		return usagef("invalid choice: '%s' (choose from %s)", command, strings.Join(txnCommands, ", "))
	}
	sub := newFlagSet("kafka-transactions "+command, transactionsDescription)
	var run func(ctx context.Context, cl *kgo.Client) error
	switch command {
	case "list":
		run = func(ctx context.Context, cl *kgo.Client) error { return listTransactions(ctx, env.Stdout, cl) }
	case "describe":
		id := sub.String("transactional-id", "String", "transactional id")
		run = func(ctx context.Context, cl *kgo.Client) error {
			if !sub.Changed("transactional-id") {
				return usagef("argument --transactional-id is required")
			}
			return describeTransaction(ctx, env.Stdout, cl, *id)
		}
	case "describe-producers":
		broker := sub.Int("broker-id", "Integer", "optional broker id to describe the producer state on a specific replica")
		topic := sub.String("topic", "String", "topic name")
		partition := sub.Int("partition", "Integer", "partition number")
		run = func(ctx context.Context, cl *kgo.Client) error {
			if err := requireArgs(sub, "topic", "partition"); err != nil {
				return err
			}
			b := int32(-1)
			if sub.Changed("broker-id") {
				b = int32(*broker)
			}
			return describeProducersCommand(ctx, env.Stdout, cl, topicPartition{*topic, int32(*partition)}, b)
		}
	case "abort":
		topic := sub.String("topic", "String", "topic name")
		partition := sub.Int("partition", "Integer", "partition number")
		startOffset := sub.Int("start-offset", "Long", "start offset of the transaction to abort (brokers on versions 3.0 and above)")
		producerID := sub.Int("producer-id", "Long", "producer id (brokers on versions older than 3.0)")
		producerEpoch := sub.Int("producer-epoch", "Short", "producer epoch (brokers on versions older than 3.0)")
		coordinatorEpoch := sub.Int("coordinator-epoch", "Integer", "coordinator epoch (brokers on versions older than 3.0)")
		run = func(ctx context.Context, cl *kgo.Client) error {
			if err := requireArgs(sub, "topic", "partition"); err != nil {
				return err
			}
			tp := topicPartition{*topic, int32(*partition)}
			var spec abortSpec
			switch {
			case sub.Changed("start-offset"):
				var err error
				if spec, err = abortSpecAt(ctx, cl, tp, *startOffset); err != nil {
					return err
				}
			case sub.Changed("producer-id"):
				if !sub.Changed("producer-epoch") {
					return &kafkaError{Msg: "Missing required argument --producer-epoch"}
				}
				if !sub.Changed("coordinator-epoch") {
					return &kafkaError{Msg: "Missing required argument --coordinator-epoch"}
				}
				// A hanging transaction of a new producer id has no
				// coordinator epoch yet (-1): 0 is at most any leader epoch.
				spec = abortSpec{tp, *producerID, int16(*producerEpoch), max(int32(*coordinatorEpoch), 0)}
			default:
				return &kafkaError{Msg: "The transaction to abort must be identified either with --start-offset (for brokers on 3.0 or above) or with --producer-id, --producer-epoch, and --coordinator-epoch (for older brokers)"}
			}
			return abortTransaction(ctx, cl, spec)
		}
	case "find-hanging":
		broker := sub.Int("broker-id", "Integer", "broker id to search for hanging transactions")
		maxTimeout := sub.IntDefault("max-transaction-timeout", "Integer", 15, "maximum transaction timeout in minutes to limit the scope of the search")
		topic := sub.String("topic", "String", "topic name to limit search to")
		partition := sub.Int("partition", "Integer", "partition number")
		run = func(ctx context.Context, cl *kgo.Client) error {
			if !sub.Changed("topic") && !sub.Changed("broker-id") {
				return &kafkaError{Msg: "The `find-hanging` command requires either --topic or --broker-id to limit the scope of the search"}
			}
			if sub.Changed("partition") && !sub.Changed("topic") {
				return &kafkaError{Msg: "The --partition argument requires --topic to be provided"}
			}
			q := hangingQuery{broker: -1, partition: -1, maxTimeout: time.Duration(*maxTimeout) * time.Minute}
			if sub.Changed("broker-id") {
				q.broker = int32(*broker)
			}
			if sub.Changed("topic") {
				q.topic = *topic
			}
			if sub.Changed("partition") {
				q.partition = int32(*partition)
			}
			return findHanging(ctx, env.Stdout, cl, q)
		}
	}
	if help, err := sub.Parse(env, rest); help || err != nil {
		return err
	}
	if len(sub.Args()) > 0 {
		return usagef("unrecognized arguments: '%s'", strings.Join(sub.Args(), " "))
	}
	cl, err := conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()
	return run(ctx, cl)
}

// requireArgs checks that the named options were given, as argparse4j's
// required arguments.
func requireArgs(fs *FlagSet, names ...string) error {
	for _, n := range names {
		if !fs.Changed(n) {
			return usagef("argument --%s is required", n)
		}
	}
	return nil
}

// txnFailure is Kafka's printErrorAndExit(message, cause).
func txnFailure(what string, err error) error {
	return &kafkaError{Msg: what + ": " + txnErrorMessage(err) + ". Enable debug logging for additional detail.", Err: err}
}

// txnErrorMessage is the message of a Kafka exception for err: the
// error's default message for a Kafka error code.
func txnErrorMessage(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Description
	}
	return err.Error()
}

// printTxnTable is Kafka's prettyPrintTable: each column padded to its
// widest value, every value followed by a tab.
func printTxnTable(w io.Writer, headers []string, rows [][]string) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i := range headers {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		for i, v := range r {
			b.WriteString(v)
			b.WriteString(strings.Repeat(" ", widths[i]-len(v)))
			b.WriteByte('\t')
		}
		fmt.Fprintln(w, b.String())
	}
	line(headers)
	for _, r := range rows {
		line(r)
	}
}

func listTransactions(ctx context.Context, w io.Writer, cl *kgo.Client) error {
	ls, err := kadm.NewClient(cl).ListTransactions(ctx, nil, nil)
	if err != nil {
		return txnFailure("Failed to list transactions", err)
	}
	all := ls.Sorted()
	slices.SortStableFunc(all, func(a, b kadm.ListedTransaction) int { return int(a.Coordinator) - int(b.Coordinator) })
	rows := make([][]string, 0, len(all))
	for _, l := range all {
		rows = append(rows, []string{l.TxnID, strconv.Itoa(int(l.Coordinator)), strconv.FormatInt(l.ProducerID, 10), l.State})
	}
	printTxnTable(w, listTransactionsHeaders, rows)
	return nil
}

func describeTransaction(ctx context.Context, w io.Writer, cl *kgo.Client, id string) error {
	fail := func(err error) error {
		return txnFailure("Failed to describe transaction state of transactional-id `"+id+"`", err)
	}
	ds, err := kadm.NewClient(cl).DescribeTransactions(ctx, id)
	if err != nil {
		return fail(err)
	}
	d, ok := ds[id]
	if !ok {
		return fail(errors.New("no answer for the transactional id"))
	}
	if d.Err != nil {
		return fail(d.Err)
	}
	start, duration := "None", "None"
	if d.StartTimestamp >= 0 {
		start = strconv.FormatInt(d.StartTimestamp, 10)
		duration = strconv.FormatInt(transactionsNow().UnixMilli()-d.StartTimestamp, 10)
	}
	var parts []string
	for _, tp := range d.Topics.Sorted() {
		for _, p := range tp.Partitions {
			parts = append(parts, fmt.Sprintf("%s-%d", tp.Topic, p))
		}
	}
	printTxnTable(w, describeTransactionsHeaders, [][]string{{
		strconv.Itoa(int(d.Coordinator)), id, strconv.FormatInt(d.ProducerID, 10), strconv.Itoa(int(d.ProducerEpoch)),
		d.State, strconv.Itoa(int(d.TimeoutMillis)), start, duration, strings.Join(parts, ","),
	}})
	return nil
}

// producerState is one active producer of a partition (DescribeProducers).
type producerState struct {
	producerID       int64
	producerEpoch    int32
	lastSequence     int32
	lastTimestamp    int64
	coordinatorEpoch int32
	txnStartOffset   int64 // -1 without an open transaction
}

// describeProducers answers DescribeProducers for partitions, at each
// partition's leader or, with broker >= 0, at that broker.
func describeProducers(ctx context.Context, cl *kgo.Client, parts []topicPartition, broker int32) (map[topicPartition][]producerState, error) {
	byBroker := map[int32][]topicPartition{}
	if broker >= 0 {
		byBroker[broker] = parts
	} else {
		topics := map[string]bool{}
		var names []string
		for _, p := range parts {
			if !topics[p.topic] {
				topics[p.topic] = true
				names = append(names, p.topic)
			}
		}
		md, err := kadm.NewClient(cl).Metadata(ctx, names...)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			t, ok := md.Topics[p.topic]
			if ok && t.Err != nil {
				return nil, t.Err
			}
			pd, ok := t.Partitions[p.partition]
			if !ok {
				return nil, kerr.UnknownTopicOrPartition
			}
			if pd.Leader < 0 {
				return nil, kerr.LeaderNotAvailable
			}
			byBroker[pd.Leader] = append(byBroker[pd.Leader], p)
		}
	}
	out := map[topicPartition][]producerState{}
	for b, ps := range byBroker {
		req := kmsg.NewPtrDescribeProducersRequest()
		idx := map[string]int{}
		for _, p := range ps {
			i, ok := idx[p.topic]
			if !ok {
				i = len(req.Topics)
				idx[p.topic] = i
				rt := kmsg.NewDescribeProducersRequestTopic()
				rt.Topic = p.topic
				req.Topics = append(req.Topics, rt)
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p.partition)
		}
		resp, err := cl.Broker(int(b)).Request(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, rt := range resp.(*kmsg.DescribeProducersResponse).Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return nil, err
				}
				tp := topicPartition{rt.Topic, rp.Partition}
				states := []producerState{}
				for _, a := range rp.ActiveProducers {
					states = append(states, producerState{
						producerID: a.ProducerID, producerEpoch: a.ProducerEpoch, lastSequence: a.LastSequence,
						lastTimestamp: a.LastTimestamp, coordinatorEpoch: a.CoordinatorEpoch, txnStartOffset: a.CurrentTxnStartOffset,
					})
				}
				out[tp] = states
			}
		}
	}
	return out, nil
}

func describeProducersCommand(ctx context.Context, w io.Writer, cl *kgo.Client, tp topicPartition, broker int32) error {
	res, err := describeProducers(ctx, cl, []topicPartition{tp}, broker)
	if err != nil {
		where := "leader"
		if broker >= 0 {
			where = fmt.Sprintf("broker %d", broker)
		}
		return txnFailure(fmt.Sprintf("Failed to describe producers for partition %s on %s", tp, where), err)
	}
	var rows [][]string
	for _, p := range res[tp] {
		start := "None"
		if p.txnStartOffset >= 0 {
			start = strconv.FormatInt(p.txnStartOffset, 10)
		}
		rows = append(rows, []string{
			strconv.FormatInt(p.producerID, 10), strconv.Itoa(int(p.producerEpoch)), strconv.Itoa(int(p.coordinatorEpoch)),
			strconv.Itoa(int(p.lastSequence)), strconv.FormatInt(p.lastTimestamp, 10), start,
		})
	}
	printTxnTable(w, describeProducersHeaders, rows)
	return nil
}

// abortSpec is Kafka's AbortTransactionSpec.
type abortSpec struct {
	tp               topicPartition
	producerID       int64
	producerEpoch    int16
	coordinatorEpoch int32
}

func (s abortSpec) String() string {
	return fmt.Sprintf("AbortTransactionSpec(topicPartition=%s, producerId=%d, producerEpoch=%d, coordinatorEpoch=%d)",
		s.tp, s.producerID, s.producerEpoch, s.coordinatorEpoch)
}

// abortSpecAt finds the producer whose open transaction starts at
// offset on tp.
func abortSpecAt(ctx context.Context, cl *kgo.Client, tp topicPartition, offset int64) (abortSpec, error) {
	res, err := describeProducers(ctx, cl, []topicPartition{tp}, -1)
	if err != nil {
		return abortSpec{}, txnFailure("Failed to validate producer state for partition "+tp.String(), err)
	}
	for _, p := range res[tp] {
		if p.txnStartOffset >= 0 && p.txnStartOffset == offset {
			return abortSpec{tp, p.producerID, int16(p.producerEpoch), max(p.coordinatorEpoch, 0)}, nil
		}
	}
	return abortSpec{}, &kafkaError{Msg: fmt.Sprintf("Could not find any open transactions starting at offset %d on partition %s", offset, tp)}
}

// abortTransaction writes an abort marker for spec's producer at the
// partition's leader (Kafka's Admin.abortTransaction: WriteTxnMarkers).
func abortTransaction(ctx context.Context, cl *kgo.Client, spec abortSpec) error {
	fail := func(err error) error { return txnFailure("Failed to abort transaction "+spec.String(), err) }
	md, err := kadm.NewClient(cl).Metadata(ctx, spec.tp.topic)
	if err != nil {
		return fail(err)
	}
	pd, ok := md.Topics[spec.tp.topic].Partitions[spec.tp.partition]
	if !ok {
		return fail(kerr.UnknownTopicOrPartition)
	}
	if pd.Leader < 0 {
		return fail(kerr.LeaderNotAvailable)
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	mk := kmsg.NewWriteTxnMarkersRequestMarker()
	mk.ProducerID, mk.ProducerEpoch, mk.Committed, mk.CoordinatorEpoch = spec.producerID, spec.producerEpoch, false, spec.coordinatorEpoch
	t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	t.Topic, t.Partitions = spec.tp.topic, []int32{spec.tp.partition}
	mk.Topics = append(mk.Topics, t)
	req.Markers = append(req.Markers, mk)
	resp, err := cl.Broker(int(pd.Leader)).Request(ctx, req)
	if err != nil {
		return fail(err)
	}
	for _, m := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		for _, rt := range m.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return fail(err)
				}
			}
		}
	}
	return nil
}

// hangingQuery is the scope of find-hanging.
type hangingQuery struct {
	broker     int32  // -1: any
	topic      string // "": every topic (with broker)
	partition  int32  // -1: every partition of topic
	maxTimeout time.Duration
}

// openTxn is an open transaction found on a partition.
type openTxn struct {
	tp    topicPartition
	state producerState
}

// findHanging is Kafka's FindHangingTransactionsCommand: open
// transactions (DescribeProducers) whose last write is older than the
// maximum transaction timeout and whose coordinator does not list their
// partition (ListTransactions by producer id, DescribeTransactions).
func findHanging(ctx context.Context, w io.Writer, cl *kgo.Client, q hangingQuery) error {
	adm := kadm.NewClient(cl)
	var parts []topicPartition
	if q.topic != "" && q.partition >= 0 {
		parts = []topicPartition{{q.topic, q.partition}}
	} else {
		var topics []string
		if q.topic != "" {
			topics = []string{q.topic}
		} else {
			td, err := adm.ListTopics(ctx)
			if err != nil {
				return txnFailure("Failed to list topics", err)
			}
			topics = td.Names()
		}
		td, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			return txnFailure(fmt.Sprintf("Failed to describe %d topics", len(topics)), err)
		}
		for _, t := range td.Sorted() {
			if t.Err != nil {
				return txnFailure(fmt.Sprintf("Failed to describe %d topics", len(topics)), t.Err)
			}
			for _, p := range t.Partitions.Sorted() {
				if q.broker < 0 || slices.Contains(p.Replicas, q.broker) {
					parts = append(parts, topicPartition{t.Topic, p.Partition})
				}
			}
		}
	}
	now := transactionsNow().UnixMilli()
	var candidates []openTxn
	const maxBatch = 500 // Kafka's MAX_BATCH_SIZE
	for len(parts) > 0 {
		batch := parts[:min(maxBatch, len(parts))]
		parts = parts[len(batch):]
		res, err := describeProducers(ctx, cl, batch, q.broker)
		if err != nil {
			return txnFailure(fmt.Sprintf("Failed to describe producers for %d partitions on broker %s", len(batch), optionalBroker(q.broker)), err)
		}
		for _, tp := range batch {
			for _, p := range res[tp] {
				if p.txnStartOffset >= 0 && now-p.lastTimestamp > q.maxTimeout.Milliseconds() {
					candidates = append(candidates, openTxn{tp, p})
				}
			}
		}
	}
	var hanging []openTxn
	if len(candidates) > 0 {
		var pids []int64
		for _, c := range candidates {
			if !slices.Contains(pids, c.state.producerID) {
				pids = append(pids, c.state.producerID)
			}
		}
		ls, err := adm.ListTransactions(ctx, pids, nil)
		if err != nil {
			return txnFailure(fmt.Sprintf("Failed to list transactions for %d producers", len(pids)), err)
		}
		idOf := map[int64]string{}
		var ids []string
		for _, l := range ls.Sorted() {
			if slices.Contains(pids, l.ProducerID) {
				idOf[l.ProducerID] = l.TxnID
				ids = append(ids, l.TxnID)
			}
		}
		descs := map[string]kadm.DescribedTransaction{}
		if len(ids) > 0 {
			ds, err := adm.DescribeTransactions(ctx, ids...)
			if err != nil && !errors.Is(err, kerr.TransactionalIDNotFound) {
				return txnFailure(fmt.Sprintf("Failed to describe %d transactions", len(ids)), err)
			}
			for id, d := range ds {
				switch {
				case d.Err == nil:
					descs[id] = d
				case errors.Is(d.Err, kerr.TransactionalIDNotFound):
				default:
					return txnFailure(fmt.Sprintf("Failed to describe %d transactions", len(ids)), d.Err)
				}
			}
		}
		for _, c := range candidates {
			id, ok := idOf[c.state.producerID]
			if !ok {
				hanging = append(hanging, c)
				continue
			}
			d, ok := descs[id]
			if !ok {
				hanging = append(hanging, c)
				continue
			}
			// The coordinator still lists the partitions it is to write
			// markers for; any other open transaction is hanging.
			if _, listed := d.Topics[c.tp.topic][c.tp.partition]; !listed {
				hanging = append(hanging, c)
			}
		}
	}
	rows := make([][]string, 0, len(hanging))
	for _, h := range hanging {
		p := h.state
		rows = append(rows, []string{
			h.tp.topic, strconv.Itoa(int(h.tp.partition)), strconv.FormatInt(p.producerID, 10), strconv.Itoa(int(p.producerEpoch)),
			strconv.Itoa(int(p.coordinatorEpoch)), strconv.FormatInt(p.txnStartOffset, 10), strconv.FormatInt(p.lastTimestamp, 10),
			strconv.FormatInt((now-p.lastTimestamp)/60000, 10),
		})
	}
	printTxnTable(w, hangingTransactionsHeaders, rows)
	return nil
}

// optionalBroker prints a broker id as Java prints an Optional<Integer>.
func optionalBroker(b int32) string {
	if b < 0 {
		return "Optional.empty"
	}
	return fmt.Sprintf("Optional[%d]", b)
}
