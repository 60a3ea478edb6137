package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestRestartKeepsRecords produces to several partitions with several
// codecs, restarts the broker and reads every record back at the same
// offset with the same contents; offsets continue after the restart, and
// timestamp lookups and the log start offset (after DeleteRecords) are
// unchanged.
func TestRestartKeepsRecords(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("keep", 3, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var want []*kgo.Record
	for i, cc := range codecs {
		pcl := e.client(kgo.ProducerBatchCompression(cc.codec))
		for p := int32(0); p < 3; p++ {
			var recs []*kgo.Record
			for j := 0; j < 5; j++ {
				recs = append(recs, &kgo.Record{Topic: "keep", Partition: p, Key: fmt.Appendf(nil, "k%d", j),
					Value:     bytes.Repeat(fmt.Appendf(nil, "%s-%d-%d ", cc.name, p, j), 20),
					Timestamp: base.Add(time.Duration(i*5+j) * time.Second),
					Headers:   []kgo.RecordHeader{{Key: "codec", Value: []byte(cc.name)}}})
			}
			e.produce(pcl, recs...)
			want = append(want, recs...)
		}
	}
	if _, err := e.adm.DeleteRecords(e.ctx, offsetsOf("keep", 2, 7)); err != nil {
		t.Fatal(err)
	}
	tsBefore := listOffsets(t, e, "keep", 1, base.Add(10*time.Second).UnixMilli())

	e.restart()

	got := byPartition(e.consumeAll("keep", 3, 25+25+18))
	for _, w := range want {
		if w.Partition == 2 && w.Offset < 7 {
			continue
		}
		idx := int(w.Offset)
		if w.Partition == 2 {
			idx -= 7
		}
		g := got[w.Partition][idx]
		if g.Offset != w.Offset {
			t.Fatalf("partition %d: record at index %d has offset %d, want %d", w.Partition, idx, g.Offset, w.Offset)
		}
		if err := sameRecord(g, w); err != nil {
			t.Errorf("partition %d offset %d after restart: %v", w.Partition, w.Offset, err)
		}
	}
	starts, err := e.adm.ListStartOffsets(e.ctx, "keep")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("keep", 2); o.Offset != 7 {
		t.Errorf("log start offset of keep/2 after restart: %d, want 7", o.Offset)
	}
	if ts := listOffsets(t, e, "keep", 1, base.Add(10*time.Second).UnixMilli()); ts.Offset != tsBefore.Offset || ts.Timestamp != tsBefore.Timestamp || ts.Offset != 10 {
		t.Errorf("timestamp lookup after restart: offset %d ts %d; before %d ts %d (want offset 10)", ts.Offset, ts.Timestamp, tsBefore.Offset, tsBefore.Timestamp)
	}

	// New records continue the offsets.
	r := &kgo.Record{Topic: "keep", Partition: 0, Value: []byte("after restart")}
	e.produce(nil, r)
	if r.Offset != 25 {
		t.Errorf("first record after restart at offset %d, want 25", r.Offset)
	}
	e.restart()
	ends, err := e.adm.ListEndOffsets(e.ctx, "keep")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("keep", 0); o.Offset != 26 {
		t.Errorf("end offset after a second restart: %d, want 26", o.Offset)
	}
}

// TestRestartKeepsTopics: topic ids, partition counts and config
// overrides survive a restart; a deleted topic stays deleted; a topic
// recreated with the same name gets a new id and an empty log, before and
// after a restart (KIP-516: ids distinguish incarnations of a name).
func TestRestartKeepsTopics(t *testing.T) {
	t.Parallel()
	e := start(t)
	idA := e.createTopic("ra", 4, map[string]*string{"retention.ms": str("4242"), "cleanup.policy": str("compact")})
	e.createTopic("rb", 1, nil)
	e.createTopic("rc", 2, nil)
	e.produce(nil, &kgo.Record{Topic: "ra", Partition: 3, Key: []byte("k"), Value: []byte("a")})
	e.produceValues("rb", 0, "old", 5)
	e.produceValues("rc", 1, "old", 5)
	idB := e.topicID("rb")
	idC := e.topicID("rc")
	if _, err := e.adm.DeleteTopics(e.ctx, "rb", "rc"); err != nil {
		t.Fatal(err)
	}
	// rb is recreated before the restart, rc after it.
	idB2 := e.createTopic("rb", 2, nil)
	if idB2 == kadm.TopicID(idB) {
		t.Error("recreated rb has its old id")
	}

	e.restart()

	md := e.topicMeta("ra")
	if md.ErrorCode != 0 || md.TopicID != idA || len(md.Partitions) != 4 {
		t.Errorf("ra after restart: %v, id %x (want %x), %d partitions", codeErr(md.ErrorCode), md.TopicID, idA, len(md.Partitions))
	}
	wantConfig(t, "ra after restart", e.topicConfig("ra", "retention.ms"), "4242", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "ra after restart", e.topicConfig("ra", "cleanup.policy"), "compact", kmsg.ConfigSourceDynamicTopicConfig)
	if got := e.consume(map[string]map[int32]kgo.Offset{"ra": {3: kgo.NewOffset().AtStart()}}, 1); string(got[0].Value) != "a" {
		t.Errorf("ra/3 after restart: %q", got[0].Value)
	}

	md = e.topicMeta("rb")
	if md.TopicID != idB2 || len(md.Partitions) != 2 {
		t.Errorf("recreated rb after restart: id %x (want %x), %d partitions", md.TopicID, idB2, len(md.Partitions))
	}
	wantCode(t, "deleted rc after restart", e.topicMeta("rc").ErrorCode, kerr.UnknownTopicOrPartition)
	for _, name := range []string{"rb", "rc"} {
		all, err := e.adm.DescribeAllLogDirs(e.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		all.Each(func(d kadm.DescribedLogDir) {
			for p, dp := range d.Topics[name] {
				if dp.Size != 0 {
					t.Errorf("%s/%d after delete+restart holds %d bytes", name, p, dp.Size)
				}
			}
		})
	}

	idC2 := e.createTopic("rc", 2, nil)
	if idC2 == kadm.TopicID(idC) || idC2 == [16]byte{} {
		t.Error("recreated rc has a reused or zero id")
	}
	for _, name := range []string{"rb", "rc"} {
		ends, err := e.adm.ListEndOffsets(e.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err != nil || o.Offset != 0 {
				t.Errorf("recreated %s/%d: end offset %d (%v), want an empty log", name, o.Partition, o.Offset, o.Err)
			}
		})
		p := fetchRaw(t, e.ctx, e.cl, name, [16]byte{}, 1, 0, 1<<20)
		if p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
			t.Errorf("recreated %s/1: fetch %v, %d bytes, high watermark %d", name, codeErr(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
		}
	}
	e.restart()
	wantCode(t, "deleted-then-recreated rc after another restart", e.topicMeta("rc").ErrorCode, nil)
	if id := e.topicID("rc"); id != idC2 {
		t.Errorf("rc id changed across restart: %x, want %x", id, idC2)
	}
}

// logStart returns the log start offset of topic/partition.
func (e *env) logStart(topic string, partition int32) int64 {
	e.t.Helper()
	starts, err := e.adm.ListStartOffsets(e.ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	o, ok := starts.Lookup(topic, partition)
	if !ok || o.Err != nil {
		e.t.Fatalf("start offset of %s/%d: %v", topic, partition, o.Err)
	}
	return o.Offset
}

// fill produces n records of size bytes each (uncompressed, one batch
// each) with timestamp ts (zero: now).
func (e *env) fill(cl *kgo.Client, topic string, n, size int, ts time.Time) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		e.produce(cl, &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte{byte('a' + i%26)}, size), Timestamp: ts})
	}
}

// TestRetention deletes old segments: by retention.bytes, by retention.ms
// (closed segments whose newest record is older than it), and by a
// cluster-wide log.retention.bytes set dynamically. The log start offset
// moves to a segment boundary, reading below it is OFFSET_OUT_OF_RANGE,
// the active segment is never deleted, and the new start survives a
// restart (Kafka UnifiedLog.deleteOldSegments, run every
// log.retention.check.interval.ms).
func TestRetention(t *testing.T) {
	t.Parallel()
	e := start(t, kafkatest.Config("log.retention.check.interval.ms", "100"))
	pcl := e.client(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	const segment = 1 << 20
	const rec = 100_000 // ~10 records per segment
	e.createTopic("ret-bytes", 1, map[string]*string{"segment.bytes": str(fmt.Sprint(segment)), "retention.bytes": str(fmt.Sprint(segment))})
	e.createTopic("ret-time", 1, map[string]*string{"segment.bytes": str(fmt.Sprint(segment)), "retention.ms": str("3600000")})
	e.createTopic("ret-dyn", 1, map[string]*string{"segment.bytes": str(fmt.Sprint(segment))})

	e.fill(pcl, "ret-bytes", 45, rec, time.Time{})
	// ret-time: 25 records two hours old, then 5 new ones.
	e.fill(pcl, "ret-time", 25, rec, time.Now().Add(-2*time.Hour))
	e.fill(pcl, "ret-time", 5, rec, time.Time{})
	e.fill(pcl, "ret-dyn", 45, rec, time.Time{})

	eventually(t, e.ctx, "retention.bytes", func() error {
		if s := e.logStart("ret-bytes", 0); s < 20 {
			return fmt.Errorf("log start offset %d", s)
		}
		return nil
	})
	eventually(t, e.ctx, "retention.ms", func() error {
		if s := e.logStart("ret-time", 0); s < 15 {
			return fmt.Errorf("log start offset %d", s)
		}
		return nil
	})
	if s := e.logStart("ret-dyn", 0); s != 0 {
		t.Fatalf("ret-dyn lost records before any retention was set: start %d", s)
	}
	if err := alterErr(e.adm.AlterBrokerConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.bytes", Value: str(fmt.Sprint(segment))}})); err != nil {
		t.Fatalf("set log.retention.bytes: %v", err)
	}
	eventually(t, e.ctx, "dynamic log.retention.bytes", func() error {
		if s := e.logStart("ret-dyn", 0); s < 20 {
			return fmt.Errorf("log start offset %d", s)
		}
		return nil
	})

	for _, topic := range []string{"ret-bytes", "ret-time", "ret-dyn"} {
		start := e.logStart(topic, 0)
		ends, err := e.adm.ListEndOffsets(e.ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		end, _ := ends.Lookup(topic, 0)
		if start >= end.Offset {
			t.Errorf("%s: log start %d reached the end %d (the active segment must stay)", topic, start, end.Offset)
		}
		p := fetchRaw(t, e.ctx, e.cl, topic, [16]byte{}, 0, start-1, 1<<20)
		wantCode(t, topic+": fetch below the log start", p.ErrorCode, kerr.OffsetOutOfRange)
		if p.LogStartOffset != start {
			t.Errorf("%s: fetch reports log start %d, ListOffsets %d", topic, p.LogStartOffset, start)
		}
		p = fetchRaw(t, e.ctx, e.cl, topic, [16]byte{}, 0, start, 1<<20)
		bs := batches(t, p.RecordBatches)
		if p.ErrorCode != 0 || len(bs) == 0 || bs[0].FirstOffset != start {
			t.Errorf("%s: fetch at the log start %d: %v, first batch %v", topic, start, codeErr(p.ErrorCode), bs)
		}
	}
	// Only the old ret-time records went, and the time index still finds
	// the first new record across segments.
	if s := e.logStart("ret-time", 0); s > 25 {
		t.Errorf("ret-time: log start %d is past the old records (25)", s)
	}
	if o := listOffsets(t, e, "ret-time", 0, time.Now().Add(-time.Hour).UnixMilli()); o.ErrorCode != 0 || o.Offset != 25 {
		t.Errorf("ret-time: first record of the last hour at %d (%v), want 25", o.Offset, codeErr(o.ErrorCode))
	}
	if o := listOffsets(t, e, "ret-time", 0, 0); o.Offset != e.logStart("ret-time", 0) {
		t.Errorf("ret-time: timestamp 0 answered %d, want the log start offset", o.Offset)
	}

	before := map[string]int64{}
	for _, topic := range []string{"ret-bytes", "ret-time", "ret-dyn"} {
		before[topic] = e.logStart(topic, 0)
	}
	e.restart()
	for topic, s := range before {
		if got := e.logStart(topic, 0); got < s {
			t.Errorf("%s: log start %d after restart, was %d", topic, got, s)
		}
	}
	recs := e.consumeAll("ret-time", 1, int(30-e.logStart("ret-time", 0)))
	if last := recs[len(recs)-1]; last.Offset != 29 {
		t.Errorf("ret-time: last record at %d", last.Offset)
	}
}
