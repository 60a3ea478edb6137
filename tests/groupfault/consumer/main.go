// Command consumer is the group member that tests/groupfault runs as a
// separate OS process. It joins a consumer group with franz-go's kgo
// (cooperative-sticky balancer), consumes one topic with autocommit off,
// commits after processing each poll, and writes one JSON line per event
// to stdout:
//
//	{"ev":"ready","ts":...}
//	{"ev":"assigned","ts":...,"parts":[0,3,7]}
//	{"ev":"revoked","ts":...,"parts":[3]}
//	{"ev":"lost","ts":...,"parts":[0,7]}
//	{"ev":"record","ts":...,"p":3,"o":41,"v":"3-41"}
//	{"ev":"commit","ts":...,"offsets":{"3":42}}
//	{"ev":"commitfail","ts":...,"err":"..."}
//	{"ev":"closed","ts":...}
//
// ts is the wall clock in Unix nanoseconds when the event happened; the
// test orders events of all members by it. A member logs a commit only
// after the coordinator acknowledged it, and holds off rebalances
// (kgo.BlockRebalanceOnPoll) until the poll's records are processed and
// committed, so a revoke is always logged after the last commit of the
// revoked partitions.
//
// On SIGTERM or SIGINT it stops polling, commits what it processed, leaves
// the group and exits 0.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// out writes events as JSON lines; one write per line, unbuffered, so a
// SIGKILL loses at most the line being written.
type out struct {
	mu sync.Mutex
}

func (o *out) emit(ev map[string]any) {
	ev["ts"] = time.Now().UnixNano()
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	b = append(b, '\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	os.Stdout.Write(b)
}

func parts(m map[string][]int32, topic string) []int32 {
	p := slices.Clone(m[topic])
	slices.Sort(p)
	return p
}

func main() {
	brokers := flag.String("brokers", "", "bootstrap broker address")
	group := flag.String("group", "", "consumer group")
	topic := flag.String("topic", "", "topic to consume")
	flag.Parse()
	if *brokers == "" || *group == "" || *topic == "" {
		fmt.Fprintln(os.Stderr, "consumer: -brokers, -group and -topic are required")
		os.Exit(2)
	}
	if err := run(*brokers, *group, *topic); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run(brokers, group, topic string) error {
	o := &out{}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.RebalanceTimeout(15*time.Second),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.emit(map[string]any{"ev": "assigned", "parts": parts(m, topic)})
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.emit(map[string]any{"ev": "revoked", "parts": parts(m, topic)})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.emit(map[string]any{"ev": "lost", "parts": parts(m, topic)})
		}),
	)
	if err != nil {
		return err
	}
	o.emit(map[string]any{"ev": "ready"})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	commit := func(recs []*kgo.Record) {
		if len(recs) == 0 {
			return
		}
		offs := map[string]int64{}
		for _, r := range recs {
			k := strconv.Itoa(int(r.Partition))
			offs[k] = max(offs[k], r.Offset+1)
		}
		// A fresh context: the commit of processed records must go out
		// even when the stop signal just cancelled ctx.
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := cl.CommitRecords(cctx, recs...); err != nil {
			o.emit(map[string]any{"ev": "commitfail", "err": err.Error()})
			return
		}
		o.emit(map[string]any{"ev": "commit", "offsets": offs})
	}

	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "consumer: fetch %s/%d: %v\n", t, p, err)
			}
		})
		recs := fs.Records()
		for _, r := range recs {
			o.emit(map[string]any{"ev": "record", "p": r.Partition, "o": r.Offset, "v": string(r.Value)})
		}
		commit(recs)
		cl.AllowRebalance()
	}
	cl.Close() // leaves the group
	o.emit(map[string]any{"ev": "closed"})
	return nil
}
