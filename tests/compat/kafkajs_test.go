package compat

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestKafkajs drives kafkajs 2.x (kafkajs/compat.js): admin createTopics,
// listTopics, fetchTopicMetadata, fetchTopicOffsets and deleteTopics; a
// producer sending keys, null keys, null, empty and binary values and
// repeated headers, uncompressed and gzip; and kafkajs's Fetch request
// sent directly, reading every partition to its end and once more at the
// end (kafkajs's group Consumer is tested in tests/security).
func TestKafkajs(t *testing.T) {
	t.Parallel()
	node, dir := requireKafkajs(t)
	c := kafkatest.Start(t)
	ctx := testContext(t)
	const n = 40
	codecs := []string{"none", "gzip"}
	var topics []string
	for _, codec := range codecs {
		topics = append(topics, "js-"+codec)
	}

	p := cmd{dir: dir, env: []string{"KAFKAJS_NO_PARTITIONER_WARNING=1"}}.run(ctx, node, "compat.js", c.Addr(), "js", fmt.Sprint(n))
	if p.err != nil {
		t.Fatal(p)
	}
	var out struct {
		Listed   []string `json:"listed"`
		Metadata map[string][]struct {
			Partition int32   `json:"partition"`
			Leader    int32   `json:"leader"`
			Replicas  []int32 `json:"replicas"`
			ISR       []int32 `json:"isr"`
			Error     int16   `json:"error"`
		} `json:"metadata"`
		Sent     []record `json:"sent"` // offsets unset
		Produced map[string][]struct {
			Partition  int32 `json:"partition"`
			Error      int16 `json:"error"`
			BaseOffset int64 `json:"baseOffset"`
		} `json:"produced"`
		Offsets map[string][]struct {
			Partition int32 `json:"partition"`
			Low       int64 `json:"low"`
			High      int64 `json:"high"`
			Offset    int64 `json:"offset"`
		} `json:"offsets"`
		Consumed []record `json:"consumed"`
		Tail     map[string]struct {
			Records int    `json:"records"`
			Error   string `json:"error"`
		} `json:"tail"`
		AfterDelete []string `json:"afterDelete"`
	}
	if err := json.Unmarshal([]byte(p.stdout), &out); err != nil {
		t.Fatalf("compat.js printed bad JSON: %v\n%s", err, p)
	}

	// Admin.
	if want := []string{"js-delete", "js-gzip", "js-none"}; !slices.Equal(out.Listed, want) {
		t.Errorf("listTopics: %v, want %v", out.Listed, want)
	}
	if want := []string{"js-gzip", "js-none"}; !slices.Equal(out.AfterDelete, want) {
		t.Errorf("listTopics after deleteTopics js-delete: %v, want %v", out.AfterDelete, want)
	}
	if topics, err := admin(t, c).ListTopics(ctx); err != nil {
		t.Fatal(err)
	} else if topics.Has("js-delete") {
		t.Errorf("franz-go still lists js-delete after kafkajs deleted it")
	}
	for _, topic := range topics {
		ps := out.Metadata[topic]
		if len(ps) != 3 {
			t.Errorf("fetchTopicMetadata: %s has %d partitions, want 3", topic, len(ps))
		}
		for i, p := range ps {
			if p.Partition != int32(i) || p.Leader != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) || p.Error != 0 {
				t.Errorf("fetchTopicMetadata: %s partition %d: %+v", topic, i, p)
			}
		}
	}

	// What was sent, with the offsets it must have got: kafkajs sends
	// one batch per partition, in order.
	var want []record
	next := map[string]int64{}
	count := map[string]int64{}
	for _, r := range out.Sent {
		tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
		r.Offset = next[tp]
		next[tp]++
		count[tp]++
		want = append(want, r)
	}
	if len(want) != n*len(topics) {
		t.Fatalf("compat.js sent %d records, want %d", len(want), n*len(topics))
	}
	for i, topic := range topics {
		for _, pr := range out.Produced[topic] {
			if pr.Error != 0 || pr.BaseOffset != 0 {
				t.Errorf("send %s partition %d: error %d, base offset %d; want 0, 0", topic, pr.Partition, pr.Error, pr.BaseOffset)
			}
		}
		if len(out.Produced[topic]) != 3 {
			t.Errorf("send %s: answers for %d partitions, want 3", topic, len(out.Produced[topic]))
		}
		for _, o := range out.Offsets[topic] {
			high := count[fmt.Sprintf("%s/%d", topic, o.Partition)]
			if o.Low != 0 || o.High != high || o.Offset != high {
				t.Errorf("fetchTopicOffsets %s partition %d: low %d high %d offset %d; want 0, %d, %d", topic, o.Partition, o.Low, o.High, o.Offset, high, high)
			}
		}
		if len(out.Offsets[topic]) != 3 {
			t.Errorf("fetchTopicOffsets %s: %d partitions, want 3", topic, len(out.Offsets[topic]))
		}
		stored := readTopic(ctx, t, c, topic)
		checkStored(t, stored, "", codecs[i])
		var wantTopic []record
		for _, r := range want {
			if r.Topic == topic {
				wantTopic = append(wantTopic, r)
			}
		}
		compareRecords(t, "stored in "+topic+" (franz-go)", wantTopic, fromKgo(stored))
		if tail := out.Tail[topic]; tail.Records != 0 || tail.Error != "" {
			t.Errorf("fetch at the end of %s: %d records, error %q; want none", topic, tail.Records, tail.Error)
		}
	}
	compareRecords(t, "fetched by kafkajs", want, out.Consumed)
}
