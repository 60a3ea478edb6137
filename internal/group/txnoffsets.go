package group

// Transactional offset commits (KIP-98, KIP-447): TxnOffsetCommit writes
// the offsets as a transactional batch of the producer to the group's
// partition of __consumer_offsets. They are pending, per producer id,
// until the producer's transaction marker lands on that partition: a
// commit marker makes them the group's committed offsets (unless a later
// regular commit of the same partition is already there: the record
// written later wins, whatever compaction keeps), an abort drops them
// (Kafka's OffsetMetadataManager: replay of a transactional
// OffsetCommit record, replayEndTransactionMarker).
//
//	TxnOffsetCommit ──▶ OffsetCommit records in a transactional batch
//	                    (producer id, epoch) ──replay──▶ pending[pid]
//	WriteTxnMarkers ──▶ CompleteTransaction ──▶ marker (control batch)
//	                    ──replay──▶ commit: pending[pid] → offsets
//	                                abort:  pending[pid] dropped
//
// Markers are written by the shard itself (coordinator.Result.Marker),
// so the marker and the state change it causes are ordered with every
// other write of the partition; loading replays records and markers in
// log order. While offsets of a partition are pending, OffsetFetch with
// require_stable answers it UNSTABLE_OFFSET_COMMIT (KIP-447), offset
// expiration skips it and an empty group with pending offsets is not
// deleted by the expiration cycle.

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// pendingOffsets are one producer's transactional offsets: group →
// topic → partition.
type pendingOffsets map[string]map[string]map[int32]offsetAndMetadata

func (po pendingOffsets) put(group, topic string, partition int32, o offsetAndMetadata) {
	topics, ok := po[group]
	if !ok {
		topics = map[string]map[int32]offsetAndMetadata{}
		po[group] = topics
	}
	parts, ok := topics[topic]
	if !ok {
		parts = map[int32]offsetAndMetadata{}
		topics[topic] = parts
	}
	parts[partition] = o
}

func (po pendingOffsets) remove(group, topic string, partition int32) {
	parts := po[group][topic]
	if parts == nil {
		return
	}
	delete(parts, partition)
	if len(parts) == 0 {
		delete(po[group], topic)
	}
	if len(po[group]) == 0 {
		delete(po, group)
	}
}

// TxnCommitRequest is a TxnOffsetCommit request.
type TxnCommitRequest struct {
	TransactionalID string
	Group           string
	ProducerID      int64
	ProducerEpoch   int16
	// Generation (v3+) is the generation or KIP-848 member epoch; -1
	// with an empty MemberID and no InstanceID when the producer does
	// not pass the consumer's group metadata.
	Generation int32
	MemberID   string
	InstanceID *string
	Topics     []CommitTopic
	Version    int16
}

// putPendingOffset records a transactional offset of producer pid.
func (s *Shard) putPendingOffset(pid int64, group, topic string, partition int32, o offsetAndMetadata) {
	po, ok := s.pendingTxn[pid]
	if !ok {
		po = pendingOffsets{}
		s.pendingTxn[pid] = po
	}
	po.put(group, topic, partition, o)
}

// removePendingOffsets drops every producer's pending offset of a
// partition (a tombstone of it was replayed).
func (s *Shard) removePendingOffsets(group, topic string, partition int32) {
	for pid, po := range s.pendingTxn {
		po.remove(group, topic, partition)
		if len(po) == 0 {
			delete(s.pendingTxn, pid)
		}
	}
}

// hasPendingOffset reports whether a transaction has an offset of the
// partition pending (Kafka's hasPendingTransactionalOffsets).
func (s *Shard) hasPendingOffset(group, topic string, partition int32) bool {
	for _, po := range s.pendingTxn {
		if _, ok := po[group][topic][partition]; ok {
			return true
		}
	}
	return false
}

// hasPendingGroup reports whether a transaction has offsets of the group
// pending.
func (s *Shard) hasPendingGroup(group string) bool {
	for _, po := range s.pendingTxn {
		if _, ok := po[group]; ok {
			return true
		}
	}
	return false
}

// pendingPartitions lists the group's partitions with a pending offset
// that have no committed offset, sorted (for tombstones).
func (s *Shard) pendingPartitions(group string) map[string][]int32 {
	out := map[string][]int32{}
	for _, po := range s.pendingTxn {
		for topic, parts := range po[group] {
			for p := range parts {
				if !s.hasOffset(group, topic, p) && !slices.Contains(out[topic], p) {
					out[topic] = append(out[topic], p)
				}
			}
		}
	}
	for _, parts := range out {
		slices.Sort(parts)
	}
	return out
}

// ReplayMarker applies a transaction marker of the partition
// (coordinator.MarkerReplayer): the producer's pending offsets become
// committed or are dropped.
func (s *Shard) ReplayMarker(offset int64, m coordinator.Marker) error {
	po, ok := s.pendingTxn[m.ProducerID]
	if !ok {
		return nil
	}
	delete(s.pendingTxn, m.ProducerID)
	if !m.Commit {
		s.log.Debug("aborted transactional offsets", "producer_id", m.ProducerID, "offset", offset)
		return nil
	}
	for _, group := range slices.Sorted(maps.Keys(po)) {
		for topic, parts := range po[group] {
			for p, o := range parts {
				cur, ok := s.offsets[group][topic][p]
				// The record written last wins: a regular commit after
				// the transactional one stays.
				if !ok || o.recordOffset > cur.recordOffset {
					s.putOffset(group, topic, p, o)
				}
			}
		}
	}
	s.log.Debug("committed transactional offsets", "producer_id", m.ProducerID, "offset", offset)
	return nil
}

// validateTxnCommit is Kafka's validateTransactionalOffsetCommit: the
// group and member checks of a regular commit, except that a producer
// that sends no group metadata (generation -1, no member, no instance)
// may commit to a group with members, and a rebalance in progress does
// not refuse it; a stale KIP-848 member epoch is ILLEGAL_GENERATION.
func (s *Shard) validateTxnCommit(req TxnCommitRequest) int16 {
	anonymous := req.Generation < 0 && req.MemberID == "" && req.InstanceID == nil
	if cg, ok := s.consumerGroups[req.Group]; ok {
		if req.Generation < 0 && cg.isEmpty() || anonymous {
			return 0
		}
		m, ok := cg.members[req.MemberID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case req.Generation != m.epoch:
			return kerr.IllegalGeneration.Code
		}
		return 0
	}
	g, ok := s.groups[req.Group]
	if !ok {
		// A simple group is created by the commit's replay; a generation
		// means the member is from an older, lost group.
		if req.Generation >= 0 {
			return kerr.IllegalGeneration.Code
		}
		return 0
	}
	switch {
	case g.is(stateDead):
		return kerr.CoordinatorNotAvailable.Code
	case req.Generation < 0 && g.is(stateEmpty), anonymous:
		return 0
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	return 0
}

// TxnCommitOffsets handles a TxnOffsetCommit request (Kafka's
// commitTransactionalOffset): the offsets are written as a transactional
// batch of the producer and are pending until its transaction ends.
// The producer's epoch is checked by the partition's producer state on
// append (INVALID_PRODUCER_EPOCH for a fenced producer). reply is called
// once, after the write.
func (s *Shard) TxnCommitOffsets(now time.Time, req TxnCommitRequest, reply func(CommitResponse), res *coordinator.Result) {
	creq := CommitRequest{Group: req.Group, Topics: req.Topics}
	if code := s.validateTxnCommit(req); code != 0 {
		resp := commitErrorResponse(creq, code)
		res.Reply(func() { reply(resp) })
		return
	}
	nowMs := ms(now)
	resp := CommitResponse{Topics: make([]CommitTopicResult, 0, len(req.Topics))}
	for _, t := range req.Topics {
		tr := CommitTopicResult{Topic: t.Topic, Partitions: make([]PartitionError, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			if p.Metadata != nil && len(*p.Metadata) > int(s.cfg.OffsetMetadataMaxBytes) {
				tr.Partitions = append(tr.Partitions, PartitionError{Partition: p.Partition, ErrorCode: kerr.OffsetMetadataTooLarge.Code})
				continue
			}
			tr.Partitions = append(tr.Partitions, PartitionError{Partition: p.Partition})
			epoch := p.LeaderEpoch
			if epoch < 0 {
				epoch = -1
			}
			res.Add(offsetCommitRecord(req.Group, t.Topic, p.Partition, offsetAndMetadata{
				offset: p.Offset, leaderEpoch: epoch, metadata: deref(p.Metadata), commitMs: nowMs, expireMs: -1,
			}))
		}
		resp.Topics = append(resp.Topics, tr)
	}
	if len(res.Records) == 0 {
		res.Reply(func() { reply(resp) })
		return
	}
	res.Producer = &coordinator.Producer{ID: req.ProducerID, Epoch: req.ProducerEpoch}
	res.Replay = true
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		if err != nil {
			resp = commitErrorResponse(creq, coordinator.WriteErrorCode(err))
		}
		next.Reply(func() { reply(resp) })
	})
}

// CompleteTransaction writes the marker m to the shard's partition and
// applies it (Kafka's scheduleTransactionCompletion). reply gets the
// append's error code (coordinator.WriteErrorCode), once.
func (s *Shard) CompleteTransaction(m coordinator.Marker, reply func(int16), res *coordinator.Result) {
	res.Marker = &m
	res.Replay = true
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		code := coordinator.WriteErrorCode(err)
		next.Reply(func() { reply(code) })
	})
}

// TxnCommitOffsets handles a TxnOffsetCommit request (topics already
// checked to exist by the caller).
func (c *Coordinator) TxnCommitOffsets(ctx context.Context, req TxnCommitRequest) CommitResponse {
	creq := CommitRequest{Group: req.Group, Topics: req.Topics}
	fail := func(code int16) CommitResponse { return commitErrorResponse(creq, code) }
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(CommitResponse)) {
		s.TxnCommitOffsets(now, req, reply, res)
	}, fail)
}

// CompleteTransaction writes a transaction marker to partition of
// __consumer_offsets, through its shard, and makes the producer's
// pending offsets there committed or dropped; it returns once the
// marker is written (acks=all). The code is the write's, or
// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS when the shard is not
// here or still loading (the marker writer retries).
func (c *Coordinator) CompleteTransaction(ctx context.Context, partition int32, m coordinator.Marker) int16 {
	return run(ctx, c, partition, func(s *Shard, _ time.Time, res *coordinator.Result, reply func(int16)) {
		s.CompleteTransaction(m, reply, res)
	}, func(code int16) int16 { return code })
}
