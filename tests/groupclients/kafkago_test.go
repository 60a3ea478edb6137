package groupclients

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// newKafkaGoReader returns a kafka-go Reader in group on topic that
// commits synchronously on every ReadMessage (CommitInterval 0) and, with
// no committed offset, starts from the first.
func newKafkaGoReader(c *kafkatest.Cluster, group, topic string, logs *syncBuffer) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{c.Addr()},
		GroupID:           group,
		Topic:             topic,
		StartOffset:       kafka.FirstOffset,
		MaxWait:           200 * time.Millisecond,
		HeartbeatInterval: 500 * time.Millisecond,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			fmt.Fprintf(logs, format+"\n", args...)
		}),
	})
}

// readN reads n messages with r, failing t if ctx ends first.
func readN(ctx context.Context, t *testing.T, r *kafka.Reader, n int, logs *syncBuffer) []kafka.Message {
	t.Helper()
	var msgs []kafka.Message
	for len(msgs) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go reader read %d of %d messages: %v\nreader errors:\n%s", len(msgs), n, err, clip(logs.String()))
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// TestKafkaGoReaderGroup reads a 2-partition topic with a kafka-go Reader
// in a group: it reads every record and commits; after it closes, a
// second Reader in the same group continues from the committed offsets,
// reading exactly the records produced since.
func TestKafkaGoReaderGroup(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := start(t)
	cl := client(t, c)
	adm := kadmClient(cl)
	const topic, group, n = "kafka-go-topic", "kafka-go-group", 50
	createTopic(ctx, t, adm, topic, 2)

	first := produce(ctx, t, cl, topic, "first-", n)
	ends := endOffsets(ctx, t, adm, topic)
	var logs syncBuffer
	r1 := newKafkaGoReader(c, group, topic, &logs)
	got := readN(ctx, t, r1, n, &logs)
	checkValues(t, "first reader", got, first)
	if err := r1.Close(); err != nil {
		t.Fatalf("close first reader: %v", err)
	}
	if got := committed(ctx, t, adm, group, topic); !sameOffsets(got, ends) {
		t.Fatalf("after the first reader closed, committed offsets are %v, want the end offsets %v", got, ends)
	}

	second := produce(ctx, t, cl, topic, "second-", n)
	ends = endOffsets(ctx, t, adm, topic)
	r2 := newKafkaGoReader(c, group, topic, &logs)
	defer r2.Close()
	got = readN(ctx, t, r2, n, &logs)
	checkValues(t, "second reader", got, second)
	if err := r2.Close(); err != nil {
		t.Fatalf("close second reader: %v", err)
	}
	if got := committed(ctx, t, adm, group, topic); !sameOffsets(got, ends) {
		t.Errorf("after the second reader closed, committed offsets are %v, want the end offsets %v", got, ends)
	}
	checkGroupEmpty(ctx, t, adm, group)
}

// checkValues fails t unless msgs hold exactly the values want, each once.
func checkValues(t *testing.T, who string, msgs []kafka.Message, want []string) {
	t.Helper()
	got := make([]string, len(msgs))
	for i, m := range msgs {
		got[i] = string(m.Value)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s read %v, want %v", who, got, want)
	}
}
