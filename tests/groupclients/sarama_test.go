package groupclients

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaMember is one Sarama ConsumerGroup member consuming in the
// background until closed.
type saramaMember struct {
	name  string
	group sarama.ConsumerGroup
	done  chan struct{}
	mu    struct {
		sync.Mutex
		assigned []int32        // the current generation's claims; nil between
		records  []saramaRecord // everything consumed, in order
		errs     []error        // from Consume and the Errors channel
	}
}

type saramaRecord struct {
	partition int32
	offset    int64
	value     string
}

// Setup implements sarama.ConsumerGroupHandler.
func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	parts := slices.Clone(s.Claims()[saramaTopic])
	slices.Sort(parts)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.assigned = parts
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.assigned = nil
	return nil
}

// ConsumeClaim implements sarama.ConsumerGroupHandler: it records each
// message and marks it for the auto-committer.
func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-c.Messages():
			if !ok {
				return nil
			}
			m.mu.Lock()
			m.mu.records = append(m.mu.records, saramaRecord{partition: msg.Partition, offset: msg.Offset, value: string(msg.Value)})
			m.mu.Unlock()
			s.MarkMessage(msg, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func (m *saramaMember) snapshot() (assigned []int32, records []saramaRecord, errs []error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mu.assigned), slices.Clone(m.mu.records), slices.Clone(m.mu.errs)
}

func (m *saramaMember) addErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.errs = append(m.mu.errs, err)
}

const saramaTopic = "sarama-group-topic"

// startSarama starts a member of group consuming saramaTopic with the
// range assignor, auto-commit every 100 ms, from the oldest offset.
func startSarama(ctx context.Context, t *testing.T, addr, group, name string) *saramaMember {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.ClientID = name
	cfg.Version = sarama.V4_0_0_0
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	g, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
	if err != nil {
		t.Fatalf("sarama %s: new consumer group: %v", name, err)
	}
	m := &saramaMember{name: name, group: g, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for err := range g.Errors() {
			m.addErr(err)
		}
	}()
	go func() {
		defer wg.Done()
		// Consume returns at each rebalance; call it again until closed.
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{saramaTopic}, m); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				m.addErr(err)
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(m.done)
	}()
	t.Cleanup(func() { m.close(t) })
	return m
}

// close leaves the group (committing what was marked) and waits for the
// member's goroutines.
func (m *saramaMember) close(t *testing.T) {
	t.Helper()
	select {
	case <-m.done:
		return
	default:
	}
	if err := m.group.Close(); err != nil {
		t.Errorf("sarama %s: close: %v", m.name, err)
	}
	<-m.done
}

// waitFor polls cond every 50 ms until it holds, failing t with what()
// when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *saramaMember) String() string {
	a, recs, errs := m.snapshot()
	return fmt.Sprintf("sarama %s: assigned %v, %d records, errors %v", m.name, a, len(recs), errs)
}

// TestSaramaConsumerGroup runs two Sarama ConsumerGroup members (classic
// protocol, range assignor) on a 4-partition topic: they split the
// partitions, together consume every record with each partition owned by
// one of them, and auto-commit the marked offsets; when one member leaves
// the other is given all four partitions, continues from the committed
// offsets without re-reading, and consumes what is produced next.
func TestSaramaConsumerGroup(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := start(t)
	cl := client(t, c)
	adm := kadmClient(cl)
	const group, n = "sarama-group", 200
	createTopic(ctx, t, adm, saramaTopic, 4)

	a := startSarama(ctx, t, c.Addr(), group, "a")
	b := startSarama(ctx, t, c.Addr(), group, "b")
	waitFor(ctx, t, func() bool {
		pa, _, _ := a.snapshot()
		pb, _, _ := b.snapshot()
		all := slices.Sorted(slices.Values(append(pa, pb...)))
		return len(pa) > 0 && len(pb) > 0 && slices.Equal(all, []int32{0, 1, 2, 3})
	}, func() string { return fmt.Sprintf("the two members never split the 4 partitions (%v; %v)", a, b) })
	assignA, _, _ := a.snapshot()
	assignB, _, _ := b.snapshot()
	t.Logf("assignment: a %v, b %v", assignA, assignB)

	first := produce(ctx, t, cl, saramaTopic, "first-", n)
	ends := endOffsets(ctx, t, adm, saramaTopic)
	seen := func(vals []string, ms ...*saramaMember) int {
		got := map[string]bool{}
		for _, m := range ms {
			_, recs, _ := m.snapshot()
			for _, r := range recs {
				got[r.value] = true
			}
		}
		k := 0
		for _, v := range vals {
			if got[v] {
				k++
			}
		}
		return k
	}
	waitFor(ctx, t, func() bool { return seen(first, a, b) == n },
		func() string { return fmt.Sprintf("consumed %d of %d records (%v; %v)", seen(first, a, b), n, a, b) })
	for _, m := range []struct {
		*saramaMember
		assigned []int32
	}{{a, assignA}, {b, assignB}} {
		_, recs, _ := m.snapshot()
		for _, r := range recs {
			if !slices.Contains(m.assigned, r.partition) {
				t.Errorf("sarama %s (assigned %v) consumed %d@%d %q from a partition it does not own", m.name, m.assigned, r.partition, r.offset, r.value)
			}
		}
	}
	waitCommitted(ctx, t, adm, group, saramaTopic, ends)

	// b leaves: a must be given every partition.
	_, before, _ := a.snapshot()
	b.close(t)
	waitFor(ctx, t, func() bool {
		pa, _, _ := a.snapshot()
		return slices.Equal(pa, []int32{0, 1, 2, 3})
	}, func() string { return fmt.Sprintf("after b left, a was never assigned all 4 partitions (%v)", a) })

	second := produce(ctx, t, cl, saramaTopic, "second-", n)
	ends = endOffsets(ctx, t, adm, saramaTopic)
	waitFor(ctx, t, func() bool { return seen(second, a) == n },
		func() string {
			return fmt.Sprintf("after the rebalance a consumed %d of %d new records (%v)", seen(second, a), n, a)
		})
	_, after, _ := a.snapshot()
	for _, r := range after[len(before):] {
		if !slices.Contains(second, r.value) {
			t.Errorf("after the rebalance a re-consumed %d@%d %q, below the committed offset", r.partition, r.offset, r.value)
		}
	}
	waitCommitted(ctx, t, adm, group, saramaTopic, ends)

	a.close(t)
	for _, m := range []*saramaMember{a, b} {
		if _, _, errs := m.snapshot(); len(errs) > 0 {
			t.Errorf("sarama %s reported errors: %v", m.name, errs)
		}
	}
	checkGroupEmpty(ctx, t, adm, group)
}
