package transactions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// saramaConfig is the configuration of Sarama's transactional producer
// (Sarama's own requirements: Idempotent, acks=all, one request in
// flight) and of its read_committed consumers.
func saramaConfig(txnID string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.ClientID = "sarama-transactions-test"
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Transaction.ID = txnID
	cfg.Producer.Transaction.Retry.Backoff = 50 * time.Millisecond
	cfg.Net.MaxOpenRequests = 1
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	return cfg
}

// saramaRead reads partition of topic from the start with Sarama's
// consumer at the isolation level until it has n records, and returns
// their values and those of any further records it has already
// delivered. The callers place the records that must stay invisible
// between visible ones, so a leak shows within the first n.
func saramaRead(t *testing.T, seeds []string, topic string, partition int32, n int, isolation sarama.IsolationLevel) []string {
	t.Helper()
	cfg := saramaConfig("")
	cfg.Producer.Idempotent = false
	cfg.Consumer.IsolationLevel = isolation
	consumer, err := sarama.NewConsumer(seeds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, partition, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out []string
	timeout := time.After(waitTimeout)
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, string(m.Value))
		case err := <-pc.Errors():
			t.Fatalf("consume %s-%d: %v", topic, partition, err)
		case <-timeout:
			t.Fatalf("consume %s-%d: %d of %d records after %v: %v", topic, partition, len(out), n, waitTimeout, out)
		}
	}
	// Whatever else was already fetched.
	for {
		select {
		case m := <-pc.Messages():
			out = append(out, string(m.Value))
		default:
			return out
		}
	}
}

// Sarama's transactional producer (BeginTxn, CommitTxn, AbortTxn)
// against one node: Sarama's read_committed consumer gets the committed
// transactions and nothing of the aborted one, which a read_uncommitted
// consumer shows was written; every transaction left a marker of
// Sarama's producer id on each of its partitions.
func TestSaramaTransactionalProducer(t *testing.T) {
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	const topic = "sarama-txn"
	createTopic(t, adm, topic, 2, 1)

	p, err := sarama.NewSyncProducer(seeds, saramaConfig("sarama-tx"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.IsTransactional() {
		t.Fatal("Sarama's producer is not transactional")
	}
	txn := func(commit bool, values ...string) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatalf("BeginTxn: %v", err)
		}
		var msgs []*sarama.ProducerMessage
		for i, v := range values {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: int32(i % 2), Value: sarama.StringEncoder(v)})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("send %v: %v", values, err)
		}
		if commit {
			err = p.CommitTxn()
		} else {
			err = p.AbortTxn()
		}
		if err != nil {
			t.Fatalf("end transaction (commit %v) of %v: %v", commit, values, err)
		}
		if s := p.TxnStatus(); s&sarama.ProducerTxnFlagReady == 0 {
			t.Fatalf("after the transaction of %v, Sarama's producer is %v, want ready", values, s)
		}
	}
	txn(true, "c1", "c2")  // partition 0: c1, partition 1: c2
	txn(false, "a1", "a2") // aborted
	txn(true, "c3", "c4")

	want := map[int32][]string{0: {"c1", "c3"}, 1: {"c2", "c4"}}
	all := map[int32][]string{0: {"c1", "a1", "c3"}, 1: {"c2", "a2", "c4"}}
	d := waitState(t, adm, "sarama-tx", "CompleteCommit")
	for part := range int32(2) {
		if got := saramaRead(t, seeds, topic, part, len(want[part]), sarama.ReadCommitted); !slices.Equal(got, want[part]) {
			t.Errorf("partition %d read_committed: %v, want %v", part, got, want[part])
		}
		if got := saramaRead(t, seeds, topic, part, len(all[part]), sarama.ReadUncommitted); !slices.Equal(got, all[part]) {
			t.Errorf("partition %d read_uncommitted: %v, want %v", part, got, all[part])
		}
		es := rawLog(t, adm, seeds, topic, part)
		if ms := markers(es); !slices.Equal(ms, []string{"COMMIT", "ABORT", "COMMIT"}) {
			t.Errorf("partition %d markers %v, want COMMIT, ABORT, COMMIT (%v)", part, ms, es)
		}
		for _, e := range es {
			if e.producerID != d.ProducerID {
				t.Errorf("partition %d: %v written by producer %d, Sarama's is %d", part, e, e.producerID, d.ProducerID)
			}
		}
	}
}

// saramaTransformer is a Sarama ConsumerGroupHandler that transforms
// each input message in a transaction of its own, with the consumed
// offset added to it (AddMessageToTxn): Sarama's consume-transform-
// produce form. The first attempt at abortValue is aborted and redone.
type saramaTransformer struct {
	producer   sarama.SyncProducer
	group      string
	output     string
	abortValue string

	// txnMu serializes the claims' transactions: Sarama runs
	// ConsumeClaim once per partition concurrently, and a producer has
	// one transaction at a time.
	txnMu sync.Mutex

	mu struct {
		sync.Mutex
		aborted bool
		errs    []error
	}
}

func (h *saramaTransformer) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaTransformer) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaTransformer) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			abort := string(m.Value) == h.abortValue && !h.mu.aborted
			h.mu.aborted = h.mu.aborted || abort
			h.mu.Unlock()
			if abort {
				if err := h.transform(s, m, "aborted-", false); err != nil {
					return h.fail(err)
				}
			}
			if err := h.transform(s, m, "t-", true); err != nil {
				return h.fail(err)
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// transform writes prefix+value in a transaction with m's offset,
// committed or aborted. Messages at even offsets add their offset by
// group id only (AddMessageToTxn: generation -1, no member, which Kafka
// accepts for a transactional commit), odd ones with the session's
// member and generation (KIP-447).
func (h *saramaTransformer) transform(s sarama.ConsumerGroupSession, m *sarama.ConsumerMessage, prefix string, commit bool) error {
	h.txnMu.Lock()
	defer h.txnMu.Unlock()
	if err := h.producer.BeginTxn(); err != nil {
		return fmt.Errorf("BeginTxn: %w", err)
	}
	out := &sarama.ProducerMessage{Topic: h.output, Partition: m.Partition, Value: sarama.StringEncoder(prefix + string(m.Value))}
	if _, _, err := h.producer.SendMessage(out); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	var err error
	if m.Offset%2 == 0 {
		err = h.producer.AddMessageToTxn(m, h.group, nil)
	} else {
		err = h.producer.AddMessageToTxnWithGroupMetadata(m, sarama.NewConsumerGroupMetadataFromSession(s, h.group, nil), nil)
	}
	if err != nil {
		return fmt.Errorf("AddMessageToTxn at offset %d: %w", m.Offset, err)
	}
	if commit {
		err = h.producer.CommitTxn()
	} else {
		err = h.producer.AbortTxn()
	}
	if err != nil {
		return fmt.Errorf("end transaction (commit %v) of offset %d: %w", commit, m.Offset, err)
	}
	return nil
}

func (h *saramaTransformer) fail(err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.errs = append(h.mu.errs, err)
	return err
}

// Sarama's consume-transform-produce loop: a consumer group
// (read_committed) whose handler writes each transformed message and
// the message's offset in one transaction (AddMessageToTxn). The output,
// read with read_committed, is the input transformed exactly once; the
// one aborted attempt is in the log but not visible; the group's
// committed offsets are the input's end.
func TestSaramaConsumeTransformProduce(t *testing.T) {
	c := start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	const input, output, group = "sarama-in", "sarama-out", "sarama-ctp"
	createTopic(t, adm, input, 2, 1)
	createTopic(t, adm, output, 2, 1)
	const n = 20
	in := client(t, seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testContext(t)
	want := map[int32][]string{}
	for i := range n {
		r := &kgo.Record{Topic: input, Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))}
		if err := in.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[r.Partition] = append(want[r.Partition], "t-"+strconv.Itoa(i))
	}

	cfg := saramaConfig("sarama-ctp-tx")
	producer, err := sarama.NewSyncProducer(seeds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	cg, err := sarama.NewConsumerGroup(seeds, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &saramaTransformer{producer: producer, group: group, output: output, abortValue: "5"}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		for gctx.Err() == nil {
			if err := cg.Consume(gctx, []string{input}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				done <- err
				return
			}
		}
		done <- nil
	}()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		err := <-done
		return errors.Join(err, cg.Close())
	}
	defer stop() // before the producer closes
	waitFor(t, "the group's offsets at the input's end", func() (bool, string) {
		h.mu.Lock()
		errs := h.mu.errs
		h.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("transform: %v", errs)
		}
		offsets, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		ok := true
		for part := range int32(2) {
			o, found := offsets.Lookup(input, part)
			ok = ok && found && o.Err == nil && o.At == n/2
		}
		return ok, fmt.Sprint(offsets)
	})
	if err := stop(); err != nil {
		t.Fatalf("consumer group: %v", err)
	}

	got := consumeAll(t, seeds, output, n, kgo.ReadCommitted())
	for part := range int32(2) {
		if !slices.Equal(got[part], want[part]) {
			t.Errorf("output partition %d read_committed: %v, want %v", part, got[part], want[part])
		}
	}
	// The aborted attempt was written (so the check above could fail)
	// and is followed by its abort marker.
	es := rawLog(t, adm, seeds, output, 1)
	if vs := values(es); !slices.Contains(vs, "aborted-5") {
		t.Errorf("output partition 1 holds %v, want the aborted attempt too", vs)
	}
	if ms := markers(es); len(ms) != n/2+1 || slices.Index(ms, "ABORT") < 0 {
		t.Errorf("output partition 1 markers %v, want %d commits and one abort", ms, n/2)
	}
	waitState(t, adm, "sarama-ctp-tx", "CompleteCommit")
}
