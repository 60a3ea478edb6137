package server

// DescribeLogDirs (key 35), versions 1-5 (Kafka 4.0 removed v0, KIP-896).
//
//	v1: throttle.   v2: flexible.   v3: top-level error code.
//	v4: total_bytes and usable_bytes (KIP-827).   v5: is_cordoned.
//
// Null topics describe every partition.

import (
	"path/filepath"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(handler{key: 35, min: 1, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeLogDirs(r.(*kmsg.DescribeLogDirsRequest)), nil
	}})
}

func (s *Server) handleDescribeLogDirs(req *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	want := func(string, int32) bool { return true }
	if req.Topics != nil {
		set := map[string]map[int32]bool{}
		for _, t := range req.Topics {
			if set[t.Topic] == nil {
				set[t.Topic] = map[int32]bool{}
			}
			for _, p := range t.Partitions {
				set[t.Topic][p] = true
			}
		}
		want = func(t string, p int32) bool { return set[t][p] }
	}
	dirs := s.deps.Logs.Dirs()
	byDir := map[string]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	for tp, l := range s.deps.Logs.Logs() {
		if !want(tp.Topic, tp.Partition) {
			continue
		}
		parent := filepath.Dir(l.Dir())
		if byDir[parent] == nil {
			byDir[parent] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
		}
		p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		p.Partition = tp.Partition
		p.Size = l.Size()
		byDir[parent][tp.Topic] = append(byDir[parent][tp.Topic], p)
	}
	for _, d := range dirs {
		rd := kmsg.NewDescribeLogDirsResponseDir()
		rd.Dir = d.Path
		rd.TotalBytes, rd.UsableBytes = d.TotalBytes, d.UsableBytes
		if d.Err != nil {
			rd.ErrorCode = kerr.KafkaStorageError.Code
		}
		topics := byDir[d.Path]
		names := make([]string, 0, len(topics))
		for n := range topics {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = n
			t.Partitions = topics[n]
			sort.Slice(t.Partitions, func(i, j int) bool { return t.Partitions[i].Partition < t.Partitions[j].Partition })
			rd.Topics = append(rd.Topics, t)
		}
		resp.Dirs = append(resp.Dirs, rd)
	}
	return resp
}
