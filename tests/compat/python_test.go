package compat

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// pythonRecords is how many records each script produces to each topic.
const pythonRecords = 40

// pythonPartitions is how many partitions the scripts create.
const pythonPartitions = 3

// runPython runs python/script with args and decodes its JSON into out.
func runPython(t *testing.T, c *kafkatest.Cluster, out any, script string, args ...string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("python", script))
	if err != nil {
		t.Fatal(err)
	}
	p := cmd{}.run(testContext(t), python, append([]string{path, c.Addr()}, args...)...)
	if p.err != nil {
		t.Fatal(p)
	}
	if err := json.Unmarshal([]byte(p.stdout), out); err != nil {
		t.Fatalf("%s printed bad JSON: %v\n%s", script, err, p)
	}
	if p.stderr != "" {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s stderr:\n%s", script, clip(p.stderr))
			}
		})
	}
}

// checkProduced checks that produced holds n records per topic, at offsets
// 0, 1, ... of each partition, with no offset twice.
func checkProduced(t *testing.T, produced []record, topics []string, n int) {
	t.Helper()
	per := map[string][]int64{}
	for _, r := range produced {
		tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
		per[tp] = append(per[tp], r.Offset)
	}
	total := 0
	for _, topic := range topics {
		for p := range pythonPartitions {
			tp := fmt.Sprintf("%s/%d", topic, p)
			offs := per[tp]
			slices.Sort(offs)
			for i, o := range offs {
				if o != int64(i) {
					t.Errorf("%s: delivered at offsets %v, want 0..%d", tp, offs, len(offs)-1)
					break
				}
			}
			total += len(offs)
		}
	}
	if total != n*len(topics) || len(produced) != total {
		t.Errorf("delivered %d records (%d in the expected topics), want %d", len(produced), total, n*len(topics))
	}
}

// checkWatermarks checks that each partition's [low, high] is [0, records
// produced to it].
func checkWatermarks(t *testing.T, what string, got map[string][2]int64, produced []record) {
	t.Helper()
	want := map[string][2]int64{}
	for _, r := range produced {
		tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
		w := want[tp]
		w[1]++
		want[tp] = w
	}
	if !mapsEqual(got, want) {
		t.Errorf("%s: watermarks %v, want %v", what, got, want)
	}
}

// checkTopicConfigs checks a few of Kafka's topic defaults in a described
// topic's configs.
func checkTopicConfigs(t *testing.T, what string, got map[string]*string) {
	t.Helper()
	for name, want := range map[string]string{
		"cleanup.policy":      "delete",
		"compression.type":    "producer",
		"retention.ms":        "604800000",
		"segment.bytes":       "1073741824",
		"max.message.bytes":   "1048588",
		"min.insync.replicas": "1",
	} {
		if v := got[name]; v == nil || *v != want {
			t.Errorf("%s: config %s = %v, want %q", what, name, deref(v), want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<absent or null>"
	}
	return fmt.Sprintf("%q", *s)
}

// TestConfluentKafka drives confluent-kafka-python (librdkafka): AdminClient
// create_topics, list_topics and describe_configs; a Producer per codec
// with keys, null keys, null, empty and binary values and repeated and null
// headers; get_watermark_offsets; a Consumer that assigns every partition
// from the beginning and reads to the end of each.
func TestConfluentKafka(t *testing.T) {
	t.Parallel()
	requirePython(t, "confluent_kafka")
	c := kafkatest.Start(t)
	ctx := testContext(t)
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	var topics []string
	for _, codec := range codecs {
		topics = append(topics, "ck-"+codec)
	}
	var out struct {
		Version      string            `json:"version"`
		Librdkafka   string            `json:"librdkafka"`
		ClusterID    string            `json:"cluster_id"`
		ControllerID int32             `json:"controller_id"`
		Brokers      map[string]string `json:"brokers"`
		Topics       map[string][]struct {
			Partition int32   `json:"partition"`
			Leader    int32   `json:"leader"`
			Replicas  []int32 `json:"replicas"`
			ISRs      []int32 `json:"isrs"`
			Error     *string `json:"error"`
		} `json:"topics"`
		TopicConfigs map[string]*string `json:"topic_configs"`
		Admin        struct {
			Create            int16             `json:"create"`
			CreatedConfig     [2]any            `json:"created_config"`
			CreateExisting    int16             `json:"create_existing"`
			CreatePartitions  int16             `json:"create_partitions"`
			PartitionsAfter   int               `json:"partitions_after"`
			Alter             int16             `json:"alter"`
			AlteredConfig     string            `json:"altered_config"`
			BrokerConfigs     map[string]string `json:"broker_configs"`
			Delete            int16             `json:"delete"`
			ListedAfterDelete bool              `json:"listed_after_delete"`
			DeleteMissing     int16             `json:"delete_missing"`
		} `json:"admin"`
		Produced      []record            `json:"produced"`
		Watermarks    map[string][2]int64 `json:"watermarks"`
		Consumed      []record            `json:"consumed"`
		EOF           []string            `json:"eof"`
		ConsumeErrors []string            `json:"consume_errors"`
		Logs          []string            `json:"logs"`
	}
	runPython(t, c, &out, "confluent_compat.py", "ck", fmt.Sprint(pythonRecords), strings.Join(codecs, ","), "20")
	t.Logf("confluent-kafka %s, librdkafka %s", out.Version, out.Librdkafka)

	// Admin.
	if out.ClusterID == "" || out.ControllerID != 1 || !mapsEqual(out.Brokers, map[string]string{"1": c.Addr()}) {
		t.Errorf("list_topics: cluster %q, controller %d, brokers %v; want a cluster id, controller 1, broker 1 at %s",
			out.ClusterID, out.ControllerID, out.Brokers, c.Addr())
	}
	for _, topic := range topics {
		ps := out.Topics[topic]
		if len(ps) != pythonPartitions {
			t.Errorf("list_topics: %s has %d partitions, want %d", topic, len(ps), pythonPartitions)
		}
		for i, p := range ps {
			if p.Partition != int32(i) || p.Leader != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISRs, []int32{1}) || p.Error != nil {
				t.Errorf("list_topics: %s partition %d: %+v", topic, i, p)
			}
		}
	}
	checkTopicConfigs(t, "describe_configs "+topics[0], out.TopicConfigs)
	// The admin round trip on ck-admin; error codes are Kafka's
	// (36 TOPIC_ALREADY_EXISTS, 3 UNKNOWN_TOPIC_OR_PARTITION) and config
	// source 1 is DYNAMIC_TOPIC_CONFIG.
	a := out.Admin
	for _, e := range []struct {
		what      string
		got, want any
	}{
		{"create_topics with retention.ms", a.Create, int16(0)},
		{"retention.ms [value, source] after create", a.CreatedConfig, [2]any{"1000", float64(1)}},
		{"create_topics of an existing topic", a.CreateExisting, int16(36)},
		{"create_partitions to 3", a.CreatePartitions, int16(0)},
		{"partitions after create_partitions", a.PartitionsAfter, 3},
		{"alter_configs retention.ms", a.Alter, int16(0)},
		{"retention.ms after alter_configs", a.AlteredConfig, "2000"},
		{"delete_topics", a.Delete, int16(0)},
		{"listed after delete_topics", a.ListedAfterDelete, false},
		{"delete_topics of a missing topic", a.DeleteMissing, int16(3)},
	} {
		if e.got != e.want {
			t.Errorf("admin: %s: %v, want %v", e.what, e.got, e.want)
		}
	}
	if want := map[string]string{"num.partitions": "1", "log.retention.hours": "168", "auto.create.topics.enable": "true"}; !mapsEqual(a.BrokerConfigs, want) {
		t.Errorf("admin: describe_configs broker 1: %v, want %v", a.BrokerConfigs, want)
	}

	// Produce, and what the broker stored.
	checkProduced(t, out.Produced, topics, pythonRecords)
	for i, topic := range topics {
		stored := readTopic(ctx, t, c, topic)
		hint, codecs := librdkafkaCodecs(codecs[i])
		checkStored(t, stored, hint, codecs...)
		var want []record
		for _, r := range out.Produced {
			if r.Topic == topic {
				want = append(want, r)
			}
		}
		compareRecords(t, "stored in "+topic+" (franz-go) vs produced", want, fromKgo(stored))
	}
	checkWatermarks(t, "get_watermark_offsets", out.Watermarks, out.Produced)

	// Consume.
	blocked := slices.ContainsFunc(out.Logs, func(l string) bool { return strings.Contains(l, librdkafkaNullRecords) })
	for _, l := range out.Logs {
		if !blocked || !strings.Contains(l, "PROTOERR") {
			t.Errorf("librdkafka logged: %s", l)
		}
	}
	if len(out.ConsumeErrors) > 0 {
		t.Errorf("consumer errors: %q", out.ConsumeErrors)
	}
	if blocked && len(out.Consumed) < len(out.Produced) {
		// What did arrive must still be right.
		compareRecords(t, "consumed (so far)", subset(out.Produced, out.Consumed), out.Consumed)
	} else {
		compareRecords(t, "consumed", out.Produced, out.Consumed)
	}
	var wantEOF []string
	for _, topic := range topics {
		for p := range pythonPartitions {
			wantEOF = append(wantEOF, fmt.Sprintf("%s/%d", topic, p))
		}
	}
	slices.Sort(wantEOF)
	if !slices.Equal(out.EOF, wantEOF) && !blocked {
		t.Errorf("end of partition reached for %v, want %v", out.EOF, wantEOF)
	}
	if blocked && !t.Failed() {
		t.Skip(nullRecordsBug)
	}
}

// subset returns the records of want at the positions (topic, partition,
// offset) that appear in got.
func subset(want, got []record) []record {
	at := map[string]bool{}
	for _, r := range got {
		at[fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)] = true
	}
	var out []record
	for _, r := range want {
		if at[fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)] {
			out = append(out, r)
		}
	}
	return out
}

// TestKafkaPython drives kafka-python: KafkaAdminClient create_topics,
// list_topics and describe_configs; a KafkaProducer per codec (none, gzip,
// snappy, lz4, zstd); a KafkaConsumer with group_id=None that assigns every
// partition, seeks to the beginning, reads to the end offsets and then polls
// at the end.
//
// gzip is built into kafka-python; snappy, lz4 and zstd need the
// python3-snappy, python3-lz4 and python3-zstandard modules. What
// kafka-python 2.x sends, and why Kafka 4 takes it:
//
//   - Against a broker whose ApiVersions looks like Kafka 0.11 or later it
//     writes RecordBatch v2 (magic 2), so the old-format quirks never reach
//     the wire: its non-standard LZ4 framing (the frame descriptor checksum
//     computed over the magic too, from before KIP-57) is used only for
//     magic 0 messages, which need Produce v0-v2, which Kafka 4 no longer
//     accepts (KIP-896).
//   - lz4: a standard LZ4 frame with independent blocks (python-lz4,
//     block_linked=False) and the content size stored. Kafka's reader
//     (Lz4BlockInputStream) skips the content size but refuses dependent
//     blocks, a frame version other than 1, set reserved or dictionary-id
//     bits, and block sizes outside 64 KiB-4 MiB; kafkaLZ4Refuses checks
//     the frames as stored against exactly that, since franz-go's reader
//     (pierrec/lz4) would also accept frames Kafka refuses.
//   - snappy: snappy-java's xerial framing, as the Java client writes it.
//   - zstd: a frame with the content size; Kafka takes zstd only from
//     Produce v7 (UNSUPPORTED_COMPRESSION_TYPE below), which kafka-python
//     uses once it infers a broker of 2.1 or later. Its consumer always
//     fetches with v4, and Kafka 4 returns stored batches unchanged at
//     every Fetch version: the check that refused fetches below v10 of
//     topics with compression.type=zstd went with down-conversion
//     (KIP-724), and these topics have compression.type=producer anyway.
func TestKafkaPython(t *testing.T) {
	t.Parallel()
	requirePython(t, "kafka")
	c := kafkatest.Start(t)
	ctx := testContext(t)

	codecs := []string{"none", "gzip"}
	probe := cmd{}.run(ctx, python, "-c", "import kafka.codec as c; print(c.has_snappy(), c.has_lz4(), c.has_zstd())")
	if probe.err != nil {
		t.Fatal(probe)
	}
	has := strings.Fields(probe.stdout)
	var absent []string
	for i, opt := range []struct{ codec, pkg string }{
		{"snappy", "python3-snappy"}, {"lz4", "python3-lz4"}, {"zstd", "python3-zstandard"},
	} {
		if i < len(has) && has[i] == "True" {
			codecs = append(codecs, opt.codec)
		} else {
			absent = append(absent, fmt.Sprintf("%s (Debian package %s)", opt.codec, opt.pkg))
		}
	}
	if len(absent) > 0 {
		// Fails the test unless GREGOR_COMPAT_OPTIONAL=1; then the codecs
		// kafka-python has are still tested.
		if os.Getenv("GREGOR_COMPAT_OPTIONAL") != "1" {
			missing(t, "kafka-python cannot compress with %s", strings.Join(absent, ", "))
		}
		t.Logf("kafka-python cannot compress with %s; those codecs are not tested", strings.Join(absent, ", "))
	}
	var topics []string
	for _, codec := range codecs {
		topics = append(topics, "kp-"+codec)
	}
	var out struct {
		Version       string              `json:"version"`
		APIVersion    string              `json:"api_version"`
		CreateErrors  [][2]any            `json:"create_errors"`
		Listed        []string            `json:"listed"`
		TopicConfigs  map[string]*string  `json:"topic_configs"`
		Produced      []record            `json:"produced"`
		Watermarks    map[string][2]int64 `json:"watermarks"`
		Positions     map[string]int64    `json:"positions"`
		Consumed      []record            `json:"consumed"`
		ConsumeErrors []string            `json:"consume_errors"`
		TailRecords   int                 `json:"tail_records"`
		TailErrors    []string            `json:"tail_errors"`
	}
	runPython(t, c, &out, "kafka_python_compat.py", "kp", fmt.Sprint(pythonRecords), strings.Join(codecs, ","), "20")
	t.Logf("kafka-python %s, inferred broker version %s", out.Version, out.APIVersion)

	// Admin.
	for _, e := range out.CreateErrors {
		if code, _ := e[1].(float64); code != 0 {
			t.Errorf("create_topics %v: error code %v", e[0], code)
		}
	}
	if len(out.CreateErrors) != len(topics) {
		t.Errorf("create_topics answered for %v, want %v", out.CreateErrors, topics)
	}
	if listed := slices.Sorted(slices.Values(out.Listed)); !slices.Equal(listed, slices.Sorted(slices.Values(topics))) {
		t.Errorf("list_topics: %v, want %v", listed, topics)
	}
	checkTopicConfigs(t, "describe_configs "+topics[0], out.TopicConfigs)

	// Produce, and what the broker stored.
	checkProduced(t, out.Produced, topics, pythonRecords)
	for i, topic := range topics {
		stored := readTopic(ctx, t, c, topic)
		checkStored(t, stored, "", codecs[i])
		var want []record
		for _, r := range out.Produced {
			if r.Topic == topic {
				want = append(want, r)
			}
		}
		compareRecords(t, "stored in "+topic+" (franz-go) vs produced", want, fromKgo(stored))
		if codecs[i] == "lz4" {
			checked := 0
			for tp, batches := range rawBatches(ctx, t, c, topic) {
				for _, b := range batches {
					if b.Attributes&0x07 != 3 {
						continue // checkStored has reported it
					}
					checked++
					if why := kafkaLZ4Refuses(b.Records); why != "" {
						t.Errorf("%s: batch at offset %d: Kafka's LZ4 reader would refuse its frame: %s", tp, b.FirstOffset, why)
					}
				}
			}
			if checked == 0 {
				t.Errorf("%s: no lz4 batch fetched to check its frame", topic)
			}
		}
	}
	checkWatermarks(t, "beginning_offsets/end_offsets", out.Watermarks, out.Produced)

	// Consume.
	isBug := func(e string) bool { return strings.Contains(e, kafkaPythonNullRecords) }
	blocked := slices.ContainsFunc(out.ConsumeErrors, isBug) || slices.ContainsFunc(out.TailErrors, isBug)
	for _, e := range append(slices.Clone(out.ConsumeErrors), out.TailErrors...) {
		if !isBug(e) {
			t.Errorf("poll raised %s", e)
		}
	}
	if blocked && len(out.Consumed) < len(out.Produced) {
		compareRecords(t, "consumed (so far)", subset(out.Produced, out.Consumed), out.Consumed)
	} else {
		compareRecords(t, "consumed", out.Produced, out.Consumed)
		for tp, w := range out.Watermarks {
			if out.Positions[tp] != w[1] {
				t.Errorf("%s: position %d after consuming, want %d", tp, out.Positions[tp], w[1])
			}
		}
	}
	if out.TailRecords != 0 {
		t.Errorf("polling at the end returned %d records, want 0", out.TailRecords)
	}
	if blocked && !t.Failed() {
		t.Skip(nullRecordsBug)
	}
}

// rawBatches reads every partition of topic (pythonPartitions of them) from
// offset 0 to its high watermark with raw Fetch requests and returns the
// record batches as the broker sent them, records still compressed, keyed
// by "topic/partition".
func rawBatches(ctx context.Context, t *testing.T, c *kafkatest.Cluster, topic string) map[string][]kmsg.RecordBatch {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err == nil {
		err = details.Error()
	}
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	out := map[string][]kmsg.RecordBatch{}
	for p := range int32(pythonPartitions) {
		tp := fmt.Sprintf("%s/%d", topic, p)
		for next, high := int64(0), int64(-1); high < 0 || next < high; {
			req := kmsg.NewPtrFetchRequest()
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = topic, details[topic].ID
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, next, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatalf("fetch %s from %d: %v", tp, next, err)
			}
			if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("fetch %s from %d: error %d, %d topics in the response", tp, next, resp.ErrorCode, len(resp.Topics))
			}
			rp0 := resp.Topics[0].Partitions[0]
			if rp0.ErrorCode != 0 {
				t.Fatalf("fetch %s from %d: error %d", tp, next, rp0.ErrorCode)
			}
			high = rp0.HighWatermark
			got := 0
			for b := rp0.RecordBatches; len(b) >= 12; {
				n := 12 + int(int32(binary.BigEndian.Uint32(b[8:12])))
				if n < 12 || n > len(b) {
					break // a partial batch at the end
				}
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(b[:n]); err != nil {
					t.Fatalf("fetch %s from %d: batch: %v", tp, next, err)
				}
				out[tp] = append(out[tp], batch)
				next = batch.FirstOffset + int64(batch.LastOffsetDelta) + 1
				b = b[n:]
				got++
			}
			if got == 0 && next < high {
				t.Fatalf("fetch %s from %d (high watermark %d): no whole batch", tp, next, high)
			}
		}
	}
	return out
}

// kafkaLZ4Refuses says why Kafka's LZ4 reader would refuse the frame that
// starts src, or returns "" if it would read it. Kafka reads a partial LZ4
// frame format (Lz4BlockInputStream; the descriptor checks are
// Lz4BlockOutputStream.FLG and .BD):
//
//	magic      4 bytes  0x184D2204, little endian
//	FLG        1 byte   version (bits 7-6) = 01, independent blocks (bit 5) = 1,
//	                    block checksum (4), content size (3), content
//	                    checksum (2) any, reserved and dictionary id (1-0) = 0
//	BD         1 byte   bit 7 = 0, block max size (6-4) 4-7 (64 KiB-4 MiB),
//	                    bits 3-0 = 0
//	size       8 bytes  only if FLG bit 3; skipped
//	HC         1 byte   checksum of the descriptor (checked by franz-go's
//	                    reader too)
func kafkaLZ4Refuses(src []byte) string {
	if len(src) < 7 || binary.LittleEndian.Uint32(src) != 0x184D2204 {
		return "no LZ4 frame magic"
	}
	flg, bd := src[4], src[5]
	switch {
	case flg>>6 != 1:
		return fmt.Sprintf("frame version %d, Kafka reads version 1 only", flg>>6)
	case flg&0x20 == 0:
		return "dependent blocks (\"Dependent block stream is unsupported\")"
	case flg&0x03 != 0:
		return fmt.Sprintf("FLG %#02x has reserved or dictionary-id bits set", flg)
	case bd&0x8f != 0:
		return fmt.Sprintf("BD %#02x has reserved bits set", bd)
	case (bd>>4)&0x07 < 4:
		return fmt.Sprintf("block size code %d, Kafka takes 4-7", (bd>>4)&0x07)
	}
	return ""
}

// TestKafkaLZ4Refuses checks kafkaLZ4Refuses on a frame from pierrec/lz4
// (the one Kafka writes too: independent 64 KiB blocks) and on that frame
// with each descriptor field Kafka refuses changed.
func TestKafkaLZ4Refuses(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("kafka-python "), 100)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	if why := kafkaLZ4Refuses(frame); why != "" {
		t.Fatalf("pierrec/lz4 frame refused: %s", why)
	}
	for _, c := range []struct {
		what string
		at   int
		set  func(byte) byte
		want string
	}{
		{"dependent blocks", 4, func(b byte) byte { return b &^ 0x20 }, "dependent blocks"},
		{"frame version 0", 4, func(b byte) byte { return b &^ 0xc0 }, "frame version 0"},
		{"dictionary id", 4, func(b byte) byte { return b | 0x01 }, "dictionary-id"},
		{"BD reserved bit", 5, func(b byte) byte { return b | 0x80 }, "reserved bits"},
		{"block size code 3", 5, func(b byte) byte { return b&^0x70 | 0x30 }, "block size code 3"},
		{"bad magic", 0, func(b byte) byte { return b ^ 0xff }, "magic"},
	} {
		bad := slices.Clone(frame)
		bad[c.at] = c.set(bad[c.at])
		if why := kafkaLZ4Refuses(bad); !strings.Contains(why, c.want) {
			t.Errorf("%s: kafkaLZ4Refuses = %q, want it to mention %q", c.what, why, c.want)
		}
	}
	if why := kafkaLZ4Refuses(frame[:6]); why == "" {
		t.Errorf("a 6-byte frame was accepted")
	}
}
