// Package transactions runs Kafka's transactional producer against
// in-process Gregor brokers (kafkatest): franz-go's kgo with a
// transactional.id, its GroupTransactSession (consume, transform,
// produce, commit the group's offsets in the transaction: KIP-447), and
// raw kmsg requests where the protocol itself is the subject.
//
// What is checked, per KIP-98 and Kafka's TransactionCoordinator:
//   - a committed transaction's records and a commit marker per partition
//     are in the log; consumers skip the marker;
//   - an aborted one's records are followed by an abort marker;
//   - a second producer with the same transactional.id fences the first
//     (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH), aborting its
//     transaction;
//   - TxnOffsetCommit offsets are pending (UNSTABLE_OFFSET_COMMIT for
//     require_stable fetches) until the commit marker, dropped on abort;
//   - a transaction older than its timeout is aborted by the coordinator;
//   - the coordinator's node dying mid-transaction leaves committed data
//     intact and the producer able to finish or abort on the new one.
//   - read_committed consumers stop at the last stable offset and skip
//     aborted transactions (more in tests/readcommitted).
package transactions

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
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

// waitTimeout bounds the polls for cluster state; tests assert outcomes,
// never durations.
const waitTimeout = 45 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start starts one node with its data in a test directory.
func start(t *testing.T, opts ...kafkatest.Opt) *kafkatest.Cluster {
	t.Helper()
	return kafkatest.Start(t, append([]kafkatest.Opt{kafkatest.Dir(t.TempDir())}, opts...)...)
}

func client(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func admin(t *testing.T, seeds ...string) *kadm.Client {
	return kadm.NewClient(client(t, seeds))
}

func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, rf int16) {
	t.Helper()
	ctx := testContext(t)
	resp, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	waitFor(t, "topic "+topic+" has leaders", func() (bool, string) {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		d := td[topic]
		if d.Err != nil || len(d.Partitions) != int(partitions) {
			return false, fmt.Sprint(d.Err, len(d.Partitions))
		}
		for _, p := range d.Partitions {
			if p.Leader < 0 {
				return false, "no leader"
			}
		}
		return true, ""
	})
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %v: %s", what, waitTimeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// txnProducer is a transactional kgo producer of topic.
func txnProducer(t *testing.T, seeds []string, id, topic string, opts ...kgo.Opt) *kgo.Client {
	return client(t, seeds, append([]kgo.Opt{
		kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, opts...)...)
}

// produce sends one record per partition of values, in a transaction
// the caller has begun.
func produce(t *testing.T, cl *kgo.Client, partition int32, values ...string) {
	t.Helper()
	ctx := testContext(t)
	for _, v := range values {
		r := kgo.StringRecord(v)
		r.Partition = partition
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
}

// entry is one record or marker of a partition's log.
type entry struct {
	offset     int64
	producerID int64
	epoch      int16
	control    bool
	commit     bool // for a marker
	value      string
}

func (e entry) String() string {
	if e.control {
		kind := "ABORT"
		if e.commit {
			kind = "COMMIT"
		}
		return fmt.Sprintf("%d:%s(pid %d/%d)", e.offset, kind, e.producerID, e.epoch)
	}
	return fmt.Sprintf("%d:%s", e.offset, e.value)
}

// rawLog reads a whole partition, markers included, with a raw Fetch
// (read_uncommitted) from its leader.
func rawLog(t *testing.T, adm *kadm.Client, seeds []string, topic string, partition int32) []entry {
	t.Helper()
	ctx := testContext(t)
	addr := leaderAddr(t, adm, seeds, topic, partition)
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "transactions-test", 0)
	defer c.Close()
	var out []entry
	offset := int64(0)
	for {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12
		req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = -1, 0, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, offset, 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := c.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		fp := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if fp.ErrorCode != 0 {
			t.Fatalf("fetch %s-%d: %v", topic, partition, kerr.ErrorForCode(fp.ErrorCode))
		}
		if len(fp.RecordBatches) == 0 {
			return out
		}
		err = record.Batches(fp.RecordBatches, func(h record.Header, b []byte) error {
			offset = h.NextOffset()
			return record.Records(b, func(r record.Record) error {
				e := entry{offset: h.BaseOffset + int64(r.OffsetDelta), producerID: h.ProducerID, epoch: h.ProducerEpoch, control: h.IsControl()}
				if e.control {
					e.commit = len(r.Key) >= 4 && binary.BigEndian.Uint16(r.Key[2:]) == 1
				} else {
					e.value = string(r.Value)
				}
				out = append(out, e)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if offset >= fp.HighWatermark {
			return out
		}
	}
}

// leaderAddr returns the address of a partition's leader.
func leaderAddr(t *testing.T, adm *kadm.Client, seeds []string, topic string, partition int32) string {
	t.Helper()
	if len(seeds) == 1 {
		return seeds[0]
	}
	var addr string
	waitFor(t, fmt.Sprintf("leader of %s-%d", topic, partition), func() (bool, string) {
		md, err := adm.Metadata(testContext(t), topic)
		if err != nil {
			return false, err.Error()
		}
		p, ok := md.Topics[topic].Partitions[partition]
		if !ok || p.Leader < 0 {
			return false, "no leader"
		}
		for _, b := range md.Brokers {
			if b.NodeID == p.Leader {
				addr = net.JoinHostPort(b.Host, fmt.Sprint(b.Port))
				return true, ""
			}
		}
		return false, "leader not listed"
	})
	return addr
}

// describe returns the coordinator's view of a transactional id.
func describe(t *testing.T, adm *kadm.Client, id string) kadm.DescribedTransaction {
	t.Helper()
	var d kadm.DescribedTransaction
	waitFor(t, "describe "+id, func() (bool, string) {
		ds, err := adm.DescribeTransactions(testContext(t), id)
		if err != nil {
			return false, err.Error()
		}
		d = ds[id]
		return d.Err == nil, fmt.Sprint(d.Err)
	})
	return d
}

// waitState waits for the transactional id to reach state.
func waitState(t *testing.T, adm *kadm.Client, id, state string) kadm.DescribedTransaction {
	t.Helper()
	var d kadm.DescribedTransaction
	waitFor(t, id+" in state "+state, func() (bool, string) {
		ds, err := adm.DescribeTransactions(testContext(t), id)
		if err != nil {
			return false, err.Error()
		}
		d = ds[id]
		return d.Err == nil && d.State == state, fmt.Sprintf("%s %v", d.State, d.Err)
	})
	return d
}

// values lists the data records of entries.
func values(es []entry) []string {
	var out []string
	for _, e := range es {
		if !e.control {
			out = append(out, e.value)
		}
	}
	return out
}

// markers lists the markers of entries as "COMMIT"/"ABORT".
func markers(es []entry) []string {
	var out []string
	for _, e := range es {
		if e.control {
			if e.commit {
				out = append(out, "COMMIT")
			} else {
				out = append(out, "ABORT")
			}
		}
	}
	return out
}

// consumeAll reads topic from the start with isolation until it has n
// records, and returns their values per partition.
func consumeAll(t *testing.T, seeds []string, topic string, n int, isolation kgo.IsolationLevel) map[int32][]string {
	t.Helper()
	cl := client(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(isolation))
	ctx, cancel := context.WithTimeout(testContext(t), waitTimeout)
	defer cancel()
	out := map[int32][]string{}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, out)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			got++
		})
	}
	return out
}

func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// rawRequester sends requests at their own version to addr over one
// connection, reconnecting after a failure (a restart).
func rawRequester(t *testing.T, addr string) func(kmsg.Request) kmsg.Response {
	var c replica.Conn
	t.Cleanup(func() {
		if c != nil {
			c.Close()
		}
	})
	return func(req kmsg.Request) kmsg.Response {
		t.Helper()
		var resp kmsg.Response
		waitFor(t, kmsg.NameForKey(req.Key()), func() (bool, string) {
			if c == nil {
				nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return false, err.Error()
				}
				c = replica.NewConn(nc, "transactions-test", 0)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			var err error
			if resp, err = c.Request(ctx, req); err != nil {
				c.Close()
				c = nil
				return false, err.Error()
			}
			return true, ""
		})
		return resp
	}
}
