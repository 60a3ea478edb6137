package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/group"
)

// commitPos is a partition's place in an OffsetCommit or TxnOffsetCommit
// request: topic i, partition j.
type commitPos struct{ topic, partition int }

// commitToCoordinator sends what passed the handler's checks to the group
// coordinator (COORDINATOR_NOT_AVAILABLE for every partition without
// one) and copies its answers, which come in request order, into codes
// at the places sent.
func commitToCoordinator(topics []group.CommitTopic, sent []commitPos, codes [][]int16, commit func() group.CommitResponse, haveCoordinator bool) {
	if len(sent) == 0 {
		return
	}
	var r group.CommitResponse
	if haveCoordinator {
		r = commit()
	} else {
		for _, t := range topics {
			tr := group.CommitTopicResult{Topic: t.Topic}
			for _, p := range t.Partitions {
				tr.Partitions = append(tr.Partitions, group.PartitionError{Partition: p.Partition, ErrorCode: kerr.CoordinatorNotAvailable.Code})
			}
			r.Topics = append(r.Topics, tr)
		}
	}
	k := 0
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if k < len(sent) {
				codes[sent[k].topic][sent[k].partition] = p.ErrorCode
			}
			k++
		}
	}
}
