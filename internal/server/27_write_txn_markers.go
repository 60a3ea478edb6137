package server

// WriteTxnMarkers (key 27), versions 1-2 (Kafka 4.0 removed v0).
//
//	v1: flexible.   v2: transaction_version per marker (KIP-890).
//
// Sent by transaction coordinators (the node's marker sender; on the
// coordinator's own node it calls WriteTxnMarkers directly, without a
// socket) to the leaders of a decided transaction's partitions. Each
// marker is a control batch (coordinator.BuildMarker: commit or abort,
// the coordinator epoch) appended as Kafka appends with
// AppendOrigin.COORDINATOR (replica.Partition.AppendCoordinator), with
// acks=all: the answer waits, at most request.timeout.ms, for the
// in-sync replicas. Markers for __consumer_offsets are written by the
// group coordinator's shard of the partition, which commits or drops the
// producer's pending transactional offsets with them; its
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS and
// COORDINATOR_NOT_AVAILABLE answer NOT_LEADER_OR_FOLLOWER, which the
// sender retries, as in Kafka. A partition this broker does not host is
// UNKNOWN_TOPIC_OR_PARTITION. Gregor has no authorizer (CLUSTER_ACTION
// in Kafka). A marker's producer epoch is checked by its
// transaction_version (v2; v1 markers are transaction version 0):
// below 2 an older epoch is INVALID_PRODUCER_EPOCH; with 2 the epoch
// must be above the producer's on the partition (the coordinator bumped
// it), the same epoch being accepted only as a retry of a marker already
// written (no open transaction), as Kafka 4.x's
// ProducerAppendInfo.checkProducerEpoch does. An older coordinator epoch
// is TRANSACTION_COORDINATOR_FENCED. Markers of __consumer_offsets are
// written by the group coordinator without their transaction version
// (checked as below 2).

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/replica"
)

func init() {
	register(handler{key: 27, min: 1, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.WriteTxnMarkers(c.ctx, r.(*kmsg.WriteTxnMarkersRequest)), nil
	}})
}

// WriteTxnMarkers writes the markers of req on this broker and answers
// as the WriteTxnMarkers API does (see the top of this file). It is the
// handler, exported for the node's marker sender to call for the
// partitions this node leads. It returns once every marker is written
// or failed; ctx ending fails those still waiting with REQUEST_TIMED_OUT.
func (s *Server) WriteTxnMarkers(ctx context.Context, req *kmsg.WriteTxnMarkersRequest) *kmsg.WriteTxnMarkersResponse {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	// codes[i][j][k]: marker i, topic j, partition k.
	codes := make([][][]int16, len(req.Markers))
	type pos struct{ i, j, k int }
	var acks []replica.PendingAck
	var ackPos []pos
	var wg sync.WaitGroup
	nowMs := s.cfg.Now().UnixMilli()
	for i, m := range req.Markers {
		codes[i] = make([][]int16, len(m.Topics))
		marker := coordinator.Marker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, CoordinatorEpoch: m.CoordinatorEpoch, Commit: m.Committed}
		for j, t := range m.Topics {
			codes[i][j] = make([]int16, len(t.Partitions))
			for k, partition := range t.Partitions {
				p, err := s.deps.Replicas.Partition(t.Topic, partition)
				if err != nil {
					codes[i][j][k] = kerr.UnknownTopicOrPartition.Code
					continue
				}
				if t.Topic == group.TopicName {
					if s.deps.Groups == nil {
						codes[i][j][k] = kerr.NotLeaderForPartition.Code
						continue
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						codes[i][j][k] = groupMarkerCode(s.deps.Groups.CompleteTransaction(ctx, partition, marker))
					}()
					continue
				}
				batch, err := coordinator.BuildMarker(marker, nowMs)
				if err == nil {
					var res replica.AppendResult
					if res, err = p.AppendTxnMarker(batch, int16(m.TransactionVersion)); err == nil {
						acks = append(acks, replica.PendingAck{Partition: p, RequiredOffset: res.LastOffset + 1})
						ackPos = append(ackPos, pos{i, j, k})
						continue
					}
				}
				codes[i][j][k] = codeOf(err)
			}
		}
	}
	if len(acks) > 0 {
		errs := s.awaitMarkers(ctx, acks)
		for n, p := range ackPos {
			codes[p.i][p.j][p.k] = codeOf(errs[n])
		}
	}
	wg.Wait()
	for i, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for j, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for k, partition := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = partition, codes[i][j][k]
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}

// awaitMarkers waits, at most request.timeout.ms (Kafka writes markers
// with that timeout), for the in-sync replicas to have the appended
// markers, and returns each one's outcome.
func (s *Server) awaitMarkers(ctx context.Context, acks []replica.PendingAck) []error {
	pg := s.deps.Replicas.Purgatory()
	errs := make([]error, len(acks))
	if pg == nil {
		return errs
	}
	// ForwardTimeout is request.timeout.ms.
	d := pg.Add(acks, s.markerTimeout())
	select {
	case <-d.Done():
		return d.Errors()
	case <-ctx.Done():
		for i := range errs {
			errs[i] = apierror.New(kerr.RequestTimedOut, "")
		}
		return errs
	}
}

// markerTimeout is request.timeout.ms.
func (s *Server) markerTimeout() time.Duration { return s.cfg.ForwardTimeout }

// groupMarkerCode maps the group coordinator's answer for a marker: the
// transaction coordinator does not expect coordinator errors, so those
// become NOT_LEADER_OR_FOLLOWER (it retries), as in Kafka.
func groupMarkerCode(code int16) int16 {
	switch code {
	case kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.NotCoordinator.Code:
		return kerr.NotLeaderForPartition.Code
	}
	return code
}
