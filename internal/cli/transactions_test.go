package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// Kafka's prettyPrintTable: columns padded to the widest value, each
// value followed by a tab (golden printed by TransactionsCommand's code).
func TestPrintTxnTable(t *testing.T) {
	var b bytes.Buffer
	printTxnTable(&b, listTransactionsHeaders, [][]string{
		{"a-rather-long-transactional-id", "1", "4000", "Ongoing"},
		{"t", "12", "7", "CompleteCommit"},
	})
	want := "TransactionalId               \tCoordinator\tProducerId\tTransactionState\t\n" +
		"a-rather-long-transactional-id\t1          \t4000      \tOngoing         \t\n" +
		"t                             \t12         \t7         \tCompleteCommit  \t\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestTransactionsUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bootstrap-server", "x:1"}, "a command is required"},
		{[]string{"--bootstrap-server", "x:1", "nope"}, "invalid choice: 'nope'"},
		{[]string{"--bootstrap-server", "x:1", "describe"}, "argument --transactional-id is required"},
		{[]string{"--bootstrap-server", "x:1", "abort", "--topic", "t", "--partition", "0"}, "must be identified either with --start-offset"},
		{[]string{"--bootstrap-server", "x:1", "abort", "--topic", "t", "--partition", "0", "--producer-id", "1"}, "Missing required argument --producer-epoch"},
		{[]string{"--bootstrap-server", "x:1", "find-hanging"}, "requires either --topic or --broker-id"},
		{[]string{"--bootstrap-server", "x:1", "find-hanging", "--broker-id", "1", "--partition", "0"}, "The --partition argument requires --topic"},
	} {
		r := runTool(t, append([]string{"kafka-transactions"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// The tool against a broker: a transaction in progress is listed and
// described; a transaction no coordinator knows (a transactional batch of
// an idempotent producer id, as a coordinator whose state was lost would
// leave) is found hanging, and aborted by its start offset.
func TestTransactionsTool(t *testing.T) {
	// Without partition verification (KIP-890 part 1) a client can leave
	// the hanging transaction that find-hanging and abort are for.
	addr := kafkatest.Start(t, kafkatest.Config("transaction.partition.verification.enable", "false")).Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "txns"); err != nil {
		t.Fatal(err)
	}

	// An open transaction of a real transactional producer, on txns-0.
	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("cli-tx"), kgo.DefaultProduceTopic("txns"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("v"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var pid int64
	var coordinator int32
	for deadline := time.Now().Add(30 * time.Second); ; {
		ds, err := adm.DescribeTransactions(ctx, "cli-tx")
		if err == nil && ds["cli-tx"].State == "Ongoing" {
			pid, coordinator = ds["cli-tx"].ProducerID, ds["cli-tx"].Coordinator
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction not ongoing: %v %v", ds, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	out := mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "list")
	wantList := fmt.Sprintf("TransactionalId\tCoordinator\tProducerId\tTransactionState\t\ncli-tx         \t%-11d\t%-10d\tOngoing         \t\n", coordinator, pid)
	if out != wantList {
		t.Fatalf("list:\n%q\nwant\n%q", out, wantList)
	}
	out = mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "describe", "--transactional-id", "cli-tx")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("describe: %q", out)
	}
	fields := strings.Split(lines[1], "\t")
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	if fields[0] != fmt.Sprint(coordinator) || fields[1] != "cli-tx" || fields[2] != fmt.Sprint(pid) || fields[3] != "0" ||
		fields[4] != "Ongoing" || fields[6] == "None" || fields[8] != "txns-0" {
		t.Fatalf("describe row %q", fields)
	}
	r := runTool(t, "kafka-transactions", "--bootstrap-server", addr, "describe", "--transactional-id", "nobody")
	if r.code == 0 || !strings.Contains(r.stderr, "Failed to describe transaction state of transactional-id `nobody`: "+kerr.TransactionalIDNotFound.Description) {
		t.Fatalf("describe unknown id: exit %d, %q", r.code, r.stderr)
	}

	// A hanging transaction on txns-1, 20 minutes old.
	ghost, start := hangingBatch(t, ctx, cl, addr, "txns", 1, 20*time.Minute)
	out = mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "describe-producers", "--topic", "txns", "--partition", "1")
	if !strings.HasPrefix(out, "ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp") ||
		!strings.Contains(out, fmt.Sprintf("%d", ghost)) || !strings.Contains(out, fmt.Sprintf("\t%d", start)) {
		t.Fatalf("describe-producers:\n%s", out)
	}
	out = mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "find-hanging", "--topic", "txns")
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Topic\tPartition\tProducerId\tProducerEpoch\tCoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)") {
		t.Fatalf("find-hanging:\n%s", out)
	}
	fields = strings.Fields(lines[1])
	if fields[0] != "txns" || fields[1] != "1" || fields[2] != fmt.Sprint(ghost) || fields[5] != fmt.Sprint(start) || fields[7] != "20" {
		t.Fatalf("find-hanging row %q", fields)
	}
	// The open transaction of cli-tx on txns-0 is not hanging even with a
	// zero timeout: its coordinator lists the partition.
	out = mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "find-hanging", "--broker-id", "1", "--max-transaction-timeout", "0")
	if strings.Contains(out, "\ntxns      \t0") || strings.Count(out, "\n") != 2 {
		t.Fatalf("find-hanging with no timeout:\n%s", out)
	}

	r = runTool(t, "kafka-transactions", "--bootstrap-server", addr, "abort", "--topic", "txns", "--partition", "1", "--start-offset", "99")
	if r.code == 0 || !strings.Contains(r.stderr, "Could not find any open transactions starting at offset 99 on partition txns-1") {
		t.Fatalf("abort at a wrong offset: exit %d, %q", r.code, r.stderr)
	}
	mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "abort", "--topic", "txns", "--partition", "1", "--start-offset", fmt.Sprint(start))
	out = mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "find-hanging", "--topic", "txns")
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("find-hanging after the abort:\n%s", out)
	}
	out = mustRun(t, "kafka-transactions", "--bootstrap-server", addr, "describe-producers", "--topic", "txns", "--partition", "1")
	if !strings.Contains(out, "None") {
		t.Fatalf("describe-producers after the abort:\n%s", out)
	}
	if err := p.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// hangingBatch writes one transactional batch, timestamped age ago, with
// a producer id no coordinator knows, and returns the id and its offset.
func hangingBatch(t *testing.T, ctx context.Context, cl *kgo.Client, addr, topic string, partition int32, age time.Duration) (int64, int64) {
	t.Helper()
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(ir.ErrorCode))
	}
	batch, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: -1, BaseTimestamp: time.Now().Add(-age).UnixMilli(), Transactional: true,
		ProducerID: ir.ProducerID, ProducerEpoch: ir.ProducerEpoch, BaseSequence: 0,
	}, []record.Record{{Value: []byte("hanging")}})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "cli-test", 0)
	defer c.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10000
	txnID := "ghost"
	req.TransactionID = &txnID
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := c.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	pr := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if pr.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(pr.ErrorCode))
	}
	return ir.ProducerID, pr.BaseOffset
}
