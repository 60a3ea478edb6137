package cli

// kafka-delete-records: Kafka's DeleteRecordsCommand.
//
//	kafka-delete-records --bootstrap-server HOST:PORT --offset-json-file FILE
//
// FILE holds, as in Kafka (offset -1 means the high watermark):
//
//	{"partitions": [{"topic": "t", "partition": 0, "offset": 3}], "version": 1}
//
// Output, partitions sorted by topic then partition:
//
//	Executing records delete operation
//	Records delete operation completed:
//	partition: t-0	low_watermark: 3
//	partition: t-1	error: org.apache.kafka.common.errors.OffsetOutOfRangeException: ...

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-delete-records",
		Summary: "Delete records of partitions up to an offset (kafka-delete-records.sh).",
		Run:     runDeleteRecords,
	})
}

// recordsToDelete is one partition of the offset JSON file.
type recordsToDelete struct {
	topic     string
	partition int32
	offset    int64
}

// parseDeleteRecordsJSON parses Kafka's offset JSON (version 1; a missing
// version means 1) and rejects duplicate partitions.
func parseDeleteRecordsJSON(data []byte) ([]recordsToDelete, error) {
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, &kafkaError{Msg: "The input string is not a valid JSON"}
	}
	version := 1
	if raw, ok := doc["version"]; ok {
		if err := json.Unmarshal(raw, &version); err != nil {
			return nil, &kafkaError{Msg: fmt.Sprintf("Expected `version` to be an int, found %s", raw)}
		}
	}
	if version != 1 {
		return nil, &kafkaError{Msg: fmt.Sprintf("Not supported version field value %d", version)}
	}
	raw, ok := doc["partitions"]
	if !ok {
		return nil, &kafkaError{Msg: "Missing partitions field"}
	}
	var parts []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, &kafkaError{Msg: "Expected `partitions` to be an array of objects: " + err.Error()}
	}
	var out []recordsToDelete
	var dups []string
	seen := map[recordsToDelete]bool{}
	for _, p := range parts {
		var r recordsToDelete
		for _, f := range []struct {
			name string
			dst  any
		}{{"topic", &r.topic}, {"partition", &r.partition}, {"offset", &r.offset}} {
			v, ok := p[f.name]
			if !ok {
				return nil, &kafkaError{Msg: fmt.Sprintf("No such field exists: `%s`", f.name)}
			}
			if err := json.Unmarshal(v, f.dst); err != nil {
				return nil, &kafkaError{Msg: fmt.Sprintf("Invalid value for field `%s`: %s", f.name, v)}
			}
		}
		key := recordsToDelete{topic: r.topic, partition: r.partition}
		if seen[key] {
			name := fmt.Sprintf("%s-%d", r.topic, r.partition)
			if !slices.Contains(dups, name) {
				dups = append(dups, name)
			}
			continue
		}
		seen[key] = true
		out = append(out, r)
	}
	if len(dups) > 0 {
		return nil, &kafkaError{Msg: "Offset json file contains duplicate topic partitions: " + strings.Join(dups, ",")}
	}
	return out, nil
}

func runDeleteRecords(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-delete-records", "This tool helps to delete records of the given partitions down to the specified offset.")
	conn := addAdminFlags(fs)
	file := fs.String("offset-json-file", "String: Offset json file path",
		"REQUIRED: The JSON file with offset per partition. The format to use is:\n"+
			"{\"partitions\":\n  [{\"topic\": \"foo\", \"partition\": 1, \"offset\": 1}],\n \"version\":1\n}")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	for _, req := range []string{"bootstrap-server", "offset-json-file"} {
		if !fs.Changed(req) {
			return usagef("Missing required argument \"[%s]\"", req)
		}
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	records, err := parseDeleteRecordsJSON(data)
	if err != nil {
		return err
	}
	cl, err := conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()

	fmt.Fprintln(env.Stdout, "Executing records delete operation")
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 30000
	byTopic := map[string]int{}
	for _, r := range records {
		i, ok := byTopic[r.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[r.topic] = i
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = r.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition = r.partition
		rp.Offset = r.offset
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	type result struct {
		topic     string
		partition int32
		text      string
	}
	var results []result
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Every partition of the failed shard gets its error.
			text := "error: " + javaErrorString(shard.Err)
			for _, rt := range shard.Req.(*kmsg.DeleteRecordsRequest).Topics {
				for _, rp := range rt.Partitions {
					results = append(results, result{rt.Topic, rp.Partition, text})
				}
			}
			continue
		}
		resp := shard.Resp.(*kmsg.DeleteRecordsResponse)
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				text := fmt.Sprintf("low_watermark: %d", rp.LowWatermark)
				if err := newBrokerError(rp.ErrorCode, nil); err != nil {
					text = "error: " + javaErrorString(err)
				}
				results = append(results, result{rt.Topic, rp.Partition, text})
			}
		}
	}
	fmt.Fprintln(env.Stdout, "Records delete operation completed:")
	slices.SortFunc(results, func(a, b result) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	for _, r := range results {
		fmt.Fprintf(env.Stdout, "partition: %s-%d\t%s\n", r.topic, r.partition, r.text)
	}
	return nil
}
