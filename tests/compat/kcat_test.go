package compat

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// kcatFormat prints one consumed record per line: partition, offset, key,
// value, headers ("k=v,k=v"), tab separated. kcat expands \t and \n.
const kcatFormat = `%p\t%o\t%k\t%s\t%h\n`

// kcatLine is a record as kcatFormat prints it.
type kcatLine struct {
	partition int32
	offset    int64
	key       string
	value     string
	headers   string
}

func (l kcatLine) String() string {
	v := l.value
	if len(v) > 40 {
		v = fmt.Sprintf("%s...(%d bytes)", v[:40], len(v))
	}
	return fmt.Sprintf("%d@%d key=%q value=%q headers=%q", l.partition, l.offset, l.key, v, l.headers)
}

func parseKcat(t *testing.T, out string) []kcatLine {
	t.Helper()
	var lines []kcatLine
	for _, s := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if s == "" {
			continue
		}
		f := strings.Split(s, "\t")
		if len(f) != 5 {
			t.Fatalf("kcat printed %q: want 5 tab-separated fields", s)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat printed %q: bad partition or offset", s)
		}
		lines = append(lines, kcatLine{partition: int32(p), offset: o, key: f[2], value: f[3], headers: f[4]})
	}
	return lines
}

// asKcat formats records read with franz-go as kcatFormat would.
func asKcat(recs []*kgo.Record) []kcatLine {
	out := make([]kcatLine, len(recs))
	for i, r := range recs {
		hs := make([]string, len(r.Headers))
		for j, h := range r.Headers {
			hs[j] = h.Key + "=" + string(h.Value)
		}
		out[i] = kcatLine{partition: r.Partition, offset: r.Offset, key: string(r.Key), value: string(r.Value), headers: strings.Join(hs, ",")}
	}
	return out
}

// compareKcat fails t unless kcat printed exactly want (in partition,
// offset order; kcat interleaves partitions).
func compareKcat(t *testing.T, what string, want, got []kcatLine) {
	t.Helper()
	got = slices.Clone(got)
	slices.SortStableFunc(got, func(a, b kcatLine) int {
		if a.partition != b.partition {
			return int(a.partition - b.partition)
		}
		return int(a.offset - b.offset)
	})
	bad := 0
	for i := 0; i < max(len(want), len(got)) && bad < 5; i++ {
		switch {
		case i >= len(want):
			t.Errorf("%s: unexpected record %v", what, got[i])
		case i >= len(got):
			t.Errorf("%s: missing record %v", what, want[i])
		case want[i] != got[i]:
			t.Errorf("%s: record %d:\n got  %v\n want %v", what, i, got[i], want[i])
		default:
			continue
		}
		bad++
	}
	if len(want) != len(got) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
	}
}

// TestKcatMetadata lists the cluster with kcat -L, as text and as JSON.
func TestKcatMetadata(t *testing.T) {
	t.Parallel()
	kcat := requireKcat(t)
	c := kafkatest.Start(t)
	ctx := testContext(t)
	adm := admin(t, c)
	createTopic(ctx, t, adm, "meta-one", 1)
	createTopic(ctx, t, adm, "meta-three", 3)

	partitionLines := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("partition %d, leader 1, replicas: 1, isrs: 1", i))
		}
		return out
	}
	// kcat -L prints:
	//
	//	Metadata for all topics (from broker 1: HOST:PORT/1):
	//	 1 brokers:
	//	  broker 1 at HOST:PORT (controller)
	//	 2 topics:
	//	  topic "meta-one" with 1 partitions:
	//	    partition 0, leader 1, replicas: 1, isrs: 1
	for _, tc := range []struct {
		args   []string
		topics map[string]int
	}{
		{nil, map[string]int{"meta-one": 1, "meta-three": 3}},
		{[]string{"-t", "meta-three"}, map[string]int{"meta-three": 3}},
	} {
		args := append([]string{"-b", c.Addr(), "-L"}, tc.args...)
		p := cmd{}.run(ctx, kcat, args...)
		if p.err != nil {
			t.Fatal(p)
		}
		var lines []string
		for _, l := range strings.Split(p.stdout, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) < 4 || lines[1] != "1 brokers:" || !strings.HasPrefix(lines[2], "broker 1 at "+c.Addr()) ||
			lines[3] != fmt.Sprintf("%d topics:", len(tc.topics)) {
			t.Fatalf("kcat %v: unexpected header:\n%s", args, p.stdout)
		}
		got := map[string][]string{}
		cur := ""
		for _, l := range lines[4:] {
			if strings.HasPrefix(l, "topic ") {
				name, rest, ok := strings.Cut(strings.TrimPrefix(l, "topic "), " with ")
				if !ok {
					t.Fatalf("kcat %v: topic line %q", args, l)
				}
				cur, _ = strconv.Unquote(name)
				got[cur] = append(got[cur], rest)
				continue
			}
			got[cur] = append(got[cur], l)
		}
		for name, n := range tc.topics {
			want := append([]string{fmt.Sprintf("%d partitions:", n)}, partitionLines(n)...)
			if !slices.Equal(got[name], want) {
				t.Errorf("kcat %v: topic %s:\n got  %q\n want %q", args, name, got[name], want)
			}
			delete(got, name)
		}
		for name := range got {
			t.Errorf("kcat %v: unexpected topic %q", args, name)
		}
	}

	p := cmd{}.run(ctx, kcat, "-b", c.Addr(), "-L", "-J")
	if p.err != nil {
		t.Fatal(p)
	}
	var md struct {
		ControllerID int32 `json:"controllerid"`
		Brokers      []struct {
			ID   int32  `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Err        string `json:"error"`
			Partitions []struct {
				Partition int32                `json:"partition"`
				Leader    int32                `json:"leader"`
				Err       string               `json:"error"`
				Replicas  []struct{ ID int32 } `json:"replicas"`
				ISRs      []struct{ ID int32 } `json:"isrs"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal([]byte(p.stdout), &md); err != nil {
		t.Fatalf("kcat -L -J: %v\n%s", err, p.stdout)
	}
	if md.ControllerID != 1 || len(md.Brokers) != 1 || md.Brokers[0].ID != 1 || md.Brokers[0].Name != c.Addr() {
		t.Errorf("kcat -L -J: controller %d, brokers %+v; want controller 1, broker 1 at %s", md.ControllerID, md.Brokers, c.Addr())
	}
	counts := map[string]int{}
	for _, tp := range md.Topics {
		if tp.Err != "" {
			t.Errorf("kcat -L -J: topic %s: error %s", tp.Topic, tp.Err)
		}
		for i, pa := range tp.Partitions {
			if pa.Partition != int32(i) || pa.Leader != 1 || len(pa.Replicas) != 1 || pa.Replicas[0].ID != 1 || len(pa.ISRs) != 1 || pa.ISRs[0].ID != 1 {
				t.Errorf("kcat -L -J: topic %s partition %d: %+v", tp.Topic, i, pa)
			}
		}
		counts[tp.Topic] = len(tp.Partitions)
	}
	if want := map[string]int{"meta-one": 1, "meta-three": 3}; !mapsEqual(counts, want) {
		t.Errorf("kcat -L -J: topics %v, want %v", counts, want)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// kcatInput returns n input lines for kcat -P -K: and the records they
// stand for: every tenth line has no key delimiter (a null key), some
// values contain the delimiter, some are long. Every value compresses well
// on its own: librdkafka sends a batch that does not shrink uncompressed,
// and the test checks that each batch is stored with the codec asked for.
func kcatInput(codec string, n int) (lines []string, keys, values []string, nullKey []bool) {
	for i := range n {
		pad := strings.Repeat(fmt.Sprintf("gregor-%s.", codec), 20+i%5*40)
		var k, v string
		null := i%10 == 0
		switch {
		case null:
			v = fmt.Sprintf("keyless-%d-%s", i, pad)
		case i%4 == 1:
			k, v = fmt.Sprintf("k%d", i), fmt.Sprintf("v:%d:with:colons:%s", i, pad)
		default:
			k, v = fmt.Sprintf("k%d", i), fmt.Sprintf("v%d-%s", i, pad)
		}
		if null {
			lines = append(lines, v)
		} else {
			lines = append(lines, k+":"+v)
		}
		keys, values, nullKey = append(keys, k), append(values, v), append(nullKey, null)
	}
	return lines, keys, values, nullKey
}

// kcatHeaders are the -H flags every produced record carries, a repeated
// key included; kcat prints them back in this order.
var kcatHeaders = []string{"h1=one", "h2=two", "h1=again"}

// TestKcatCodecs produces with kcat (librdkafka) with each compression
// codec, keys and headers; checks with franz-go what the broker stored;
// then consumes the whole topic with kcat -e and each partition with -p,
// and checks that every record comes back exactly.
func TestKcatCodecs(t *testing.T) {
	t.Parallel()
	kcat := requireKcat(t)
	c := kafkatest.Start(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			topic := "kcat-" + codec
			createTopic(ctx, t, admin(t, c), topic, 3)

			const n = 60
			lines, keys, values, nullKey := kcatInput(codec, n)
			args := []string{"-b", c.Addr(), "-P", "-t", topic, "-K:", "-z", codec}
			for _, h := range kcatHeaders {
				args = append(args, "-H", h)
			}
			if p := (cmd{stdin: strings.Join(lines, "\n") + "\n"}).run(ctx, kcat, args...); p.err != nil {
				t.Fatal(p)
			}

			// What the broker stored, read by franz-go.
			stored := readTopic(ctx, t, c, topic)
			hint, codecs := librdkafkaCodecs(codec)
			checkStored(t, stored, hint, codecs...)
			if len(stored) != n {
				t.Fatalf("stored %d records, want %d", len(stored), n)
			}
			index := map[string]int{} // value -> input line; values are unique
			for i, v := range values {
				index[v] = i
			}
			last := map[int32]int{}
			counts := map[int32]int{}
			for _, r := range stored {
				i, ok := index[string(r.Value)]
				if !ok {
					t.Fatalf("stored record %d@%d has a value that was not produced: %q", r.Partition, r.Offset, r.Value)
				}
				delete(index, string(r.Value))
				if nullKey[i] != (r.Key == nil) || string(r.Key) != keys[i] {
					t.Errorf("record %d (%d@%d): key %q (null %v), want %q (null %v)", i, r.Partition, r.Offset, r.Key, r.Key == nil, keys[i], nullKey[i])
				}
				var hs []string
				for _, h := range r.Headers {
					hs = append(hs, h.Key+"="+string(h.Value))
				}
				if !slices.Equal(hs, kcatHeaders) {
					t.Errorf("record %d: headers %q, want %q", i, hs, kcatHeaders)
				}
				if prev, ok := last[r.Partition]; ok && prev > i {
					t.Errorf("partition %d: record %d stored after record %d", r.Partition, i, prev)
				}
				last[r.Partition] = i
				counts[r.Partition]++
			}

			want := asKcat(stored)
			// The whole topic, to the end of every partition.
			p := cmd{trip: librdkafkaNullRecords}.run(ctx, kcat, "-b", c.Addr(), "-C", "-t", topic, "-e", "-f", kcatFormat)
			blocked := p.tripped
			switch {
			case blocked:
				t.Logf("kcat -C -e: %s", nullRecordsBug)
			case p.err != nil:
				t.Fatal(p)
			default:
				compareKcat(t, "kcat -C -e", want, parseKcat(t, p.stdout))
			}

			// Each partition alone, as many records as it holds.
			for part := range int32(3) {
				if counts[part] == 0 {
					continue
				}
				p := cmd{}.run(ctx, kcat, "-b", c.Addr(), "-C", "-t", topic, "-p", fmt.Sprint(part),
					"-o", "beginning", "-c", fmt.Sprint(counts[part]), "-f", kcatFormat)
				if p.err != nil {
					t.Fatal(p)
				}
				var wantPart []kcatLine
				for _, l := range want {
					if l.partition == part {
						wantPart = append(wantPart, l)
					}
				}
				compareKcat(t, fmt.Sprintf("kcat -C -p %d", part), wantPart, parseKcat(t, p.stdout))
			}
			if blocked && !t.Failed() {
				t.Skip(nullRecordsBug)
			}
		})
	}
}

// TestKcatOffsets consumes one partition from an offset, from an offset
// relative to the end and from a timestamp (ListOffsets by time), and asks
// kcat -Q for the offsets of times.
func TestKcatOffsets(t *testing.T) {
	t.Parallel()
	kcat := requireKcat(t)
	c := kafkatest.Start(t)
	ctx := testContext(t)
	const topic = "kcat-offsets"
	createTopic(ctx, t, admin(t, c), topic, 2)
	// Two producer runs, so that partition 1 holds (at least) two batches.
	for _, from := range []int{0, 5} {
		var in strings.Builder
		for i := from; i < from+5; i++ {
			fmt.Fprintf(&in, "k%d:v%d\n", i, i)
		}
		if p := (cmd{stdin: in.String()}).run(ctx, kcat, "-b", c.Addr(), "-P", "-t", topic, "-p", "1", "-K:"); p.err != nil {
			t.Fatal(p)
		}
	}
	stored := readTopic(ctx, t, c, topic)
	if len(stored) != 10 {
		t.Fatalf("stored %d records, want 10", len(stored))
	}
	for i, r := range stored {
		if r.Partition != 1 || r.Offset != int64(i) || string(r.Key) != fmt.Sprintf("k%d", i) || string(r.Value) != fmt.Sprintf("v%d", i) {
			t.Fatalf("stored record %d: %d@%d %q=%q", i, r.Partition, r.Offset, r.Key, r.Value)
		}
	}
	want := asKcat(stored)

	// The first offset whose timestamp is at least that of offset 6
	// (earlier records can share its millisecond).
	ts := stored[6].Timestamp.UnixMilli()
	fromTS := 6
	for fromTS > 0 && stored[fromTS-1].Timestamp.UnixMilli() >= ts {
		fromTS--
	}
	for _, tc := range []struct {
		offset string
		from   int
	}{
		{"beginning", 0},
		{"4", 4},
		{"-3", 7},
		{fmt.Sprintf("s@%d", ts), fromTS},
	} {
		p := cmd{}.run(ctx, kcat, "-b", c.Addr(), "-C", "-t", topic, "-p", "1", "-o", tc.offset, "-c", fmt.Sprint(10-tc.from), "-f", kcatFormat)
		if p.err != nil {
			t.Fatal(p)
		}
		compareKcat(t, "kcat -C -o "+tc.offset, want[tc.from:], parseKcat(t, p.stdout))
	}

	// kcat -Q -t topic:partition:time prints "topic [partition] offset N".
	for _, tc := range []struct {
		time string
		want int64
	}{
		{"-1", 10}, // latest
		{"-2", 0},  // earliest
		{fmt.Sprint(ts), int64(fromTS)},
		{fmt.Sprint(stored[9].Timestamp.UnixMilli() + 1), -1}, // after every record
	} {
		p := cmd{}.run(ctx, kcat, "-b", c.Addr(), "-Q", "-t", fmt.Sprintf("%s:1:%s", topic, tc.time))
		if p.err != nil {
			t.Fatal(p)
		}
		if got, want := strings.TrimSpace(p.stdout), fmt.Sprintf("%s [1] offset %d", topic, tc.want); got != want {
			t.Errorf("kcat -Q %s: %q, want %q", tc.time, got, want)
		}
	}
}

// TestKcatConsumeToEnd consumes to the end of partitions with kcat -e:
// kcat exits once librdkafka has fetched at every partition's high
// watermark and got nothing, which needs a Fetch response that returns an
// empty record set. Kafka's FetchResponse always carries records of length
// 0 there (MemoryRecords.EMPTY); length -1 (null) makes librdkafka drop the
// whole response ("invalid MessageSetSize -1") and retry forever.
func TestKcatConsumeToEnd(t *testing.T) {
	t.Parallel()
	kcat := requireKcat(t)
	c := kafkatest.Start(t)
	ctx := testContext(t)
	const topic = "kcat-eof"
	createTopic(ctx, t, admin(t, c), topic, 2)
	if p := (cmd{stdin: "a:1\nb:2\nc:3\n"}).run(ctx, kcat, "-b", c.Addr(), "-P", "-t", topic, "-p", "0", "-K:"); p.err != nil {
		t.Fatal(p)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"empty partition", []string{"-p", "1"}, 0},
		{"partition at its end", []string{"-p", "0", "-o", "end"}, 0},
		{"whole topic", nil, 3},
	} {
		args := append([]string{"-b", c.Addr(), "-C", "-t", topic, "-e", "-f", kcatFormat}, tc.args...)
		p := cmd{trip: librdkafkaNullRecords}.run(ctx, kcat, args...)
		switch {
		case p.tripped:
			t.Errorf("%s: librdkafka rejected a Fetch response (a partition with no records must get an empty record set, not null):\n%s", tc.name, p)
		case p.err != nil:
			t.Errorf("%s: %v", tc.name, p)
		default:
			if got := len(parseKcat(t, p.stdout)); got != tc.want {
				t.Errorf("%s: %d records, want %d:\n%s", tc.name, got, tc.want, p.stdout)
			}
		}
	}
}
