package server

// Fetch (key 1), versions 4-18 (Kafka 4.0 removed 0-3, KIP-896).
//
//	v4: isolation_level, last_stable_offset, aborted transactions.
//	v5: log_start_offset.   v7: fetch sessions (KIP-227).
//	v9: current_leader_epoch (KIP-320).   v11: rack, preferred read
//	replica (KIP-392).   v12: flexible, last_fetched_epoch, diverging
//	epoch.   v13: topic ids (KIP-516).   v15: replica_state replaces
//	replica_id (KIP-903).   v16: current leader/node endpoints (KIP-951).
//	v17: replica directory id (KIP-853).   v18: high watermark tag for
//	share groups; no change for consumers.
//
// A fetch reads whole batches from the logs, never decoding them, and
// long-polls: while fewer than min_bytes are available and max_wait_ms has
// not passed, it parks until an append to one of its partitions.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/replica"
)

func init() {
	register(handler{key: 1, min: 4, max: 18, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleFetch(c, r.(*kmsg.FetchRequest)), nil
	}})
}

// fetchPartition is one partition to read in this request.
type fetchPartition struct {
	key  sessionKey
	name string // resolved topic name; "" if unknown
	// cached points at the session's state, nil without a session.
	cached *sessionPartition

	fetchOffset        int64
	maxBytes           int32
	currentLeaderEpoch int32

	p   *replica.Partition
	err int16
}

func (s *Server) handleFetch(c *conn, req *kmsg.FetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	im := s.image()
	useIDs := req.Version >= 13

	// Resolve the session and the partitions to read.
	var sess *fetchSession
	full := true
	switch {
	case req.SessionEpoch == sessionInitialEpoch && req.Version >= 7:
		// A new full session; one named in the request is closed first.
		if req.SessionID != 0 {
			s.sessions.remove(req.SessionID)
		}
		sess = s.sessions.create() // nil when full: answer without a session
	case req.SessionID == 0:
		if req.SessionEpoch != sessionFinalEpoch && req.Version >= 7 {
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
			return resp
		}
	case req.SessionEpoch == sessionFinalEpoch:
		s.sessions.remove(req.SessionID)
	default:
		var err error
		sess, err = s.sessions.get(req.SessionID, req.SessionEpoch)
		if err != nil {
			resp.ErrorCode = codeOf(err)
			return resp
		}
		full = false
	}

	keyOf := func(name string, id [16]byte, partition int32) sessionKey {
		if useIDs {
			return sessionKey{topicID: id, partition: partition}
		}
		return sessionKey{topic: name, partition: partition}
	}
	var parts []*fetchPartition
	if sess == nil {
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				parts = append(parts, &fetchPartition{
					key:         keyOf(rt.Topic, rt.TopicID, rp.Partition),
					fetchOffset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes, currentLeaderEpoch: rp.CurrentLeaderEpoch,
				})
			}
		}
	} else {
		for _, ft := range req.ForgottenTopics {
			for _, p := range ft.Partitions {
				sess.forget(keyOf(ft.Topic, ft.TopicID, p))
			}
		}
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				sess.upsert(keyOf(rt.Topic, rt.TopicID, rp.Partition), rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch)
			}
		}
		for _, k := range sess.order {
			sp := sess.partition[k]
			parts = append(parts, &fetchPartition{
				key: k, cached: sp,
				fetchOffset: sp.fetchOffset, maxBytes: sp.maxBytes, currentLeaderEpoch: sp.currentLeaderEpoch,
			})
		}
		resp.SessionID = sess.id
	}
	var watch []*replica.Partition
	for _, fp := range parts {
		topic, ok := resolveTopic(im, fp.key.topic, fp.key.topicID)
		if !ok {
			fp.err = kerr.UnknownTopicOrPartition.Code
			if useIDs {
				fp.err = kerr.UnknownTopicID.Code
			}
			continue
		}
		fp.name = topic.Name
		p, err := s.deps.Replicas.Partition(topic.Name, fp.key.partition)
		if err != nil {
			fp.err = codeOf(err)
			continue
		}
		fp.p = p
		watch = append(watch, p)
	}

	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > s.cfg.FetchMaxBytes {
		maxBytes = s.cfg.FetchMaxBytes
	}
	isolation := req.IsolationLevel

	// Long poll: read; if not enough, wait for an append or the deadline.
	deadline := s.cfg.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	var waiter *replica.Waiter
	defer func() {
		if waiter != nil {
			waiter.Close()
		}
	}()
	for {
		results, total, anyErr := s.readFetch(parts, maxBytes, isolation)
		if total >= int(req.MinBytes) || anyErr || req.MaxWaitMillis <= 0 || !s.cfg.Now().Before(deadline) || len(watch) == 0 {
			s.fillFetchResponse(resp, req, parts, results, full)
			return resp
		}
		if waiter == nil {
			// Register, then read once more so an append that raced
			// with registration is not missed.
			waiter = s.deps.Replicas.Watch(watch)
			continue
		}
		t := time.NewTimer(deadline.Sub(s.cfg.Now()))
		select {
		case <-waiter.C:
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			s.fillFetchResponse(resp, req, parts, results, full)
			return resp
		}
		t.Stop()
	}
}

type fetchResult struct {
	err            int16
	data           []byte
	highWatermark  int64
	lastStable     int64
	logStartOffset int64
}

// readFetch reads every partition within the byte limits (KIP-74: the
// first batch of the first partition with data is returned whole even
// when larger than the limits).
func (s *Server) readFetch(parts []*fetchPartition, maxBytes int32, isolation int8) ([]fetchResult, int, bool) {
	results := make([]fetchResult, len(parts))
	remaining := int(maxBytes)
	total := 0
	anyErr := false
	for i, fp := range parts {
		r := &results[i]
		r.highWatermark, r.lastStable, r.logStartOffset = -1, -1, -1
		if fp.err != 0 {
			r.err = fp.err
			anyErr = true
			continue
		}
		limit := int(fp.maxBytes)
		if limit > remaining {
			limit = remaining
		}
		if limit < 0 {
			limit = 0
		}
		rr, err := fp.p.Read(fp.fetchOffset, limit, isolation, fp.currentLeaderEpoch, total == 0)
		r.highWatermark, r.lastStable, r.logStartOffset = rr.HighWatermark, rr.LastStableOffset, rr.LogStartOffset
		if err != nil {
			r.err = codeOf(err)
			anyErr = true
			continue
		}
		r.data = rr.Data
		total += len(rr.Data)
		remaining -= len(rr.Data)
	}
	return results, total, anyErr
}

func (s *Server) fillFetchResponse(resp *kmsg.FetchResponse, req *kmsg.FetchRequest, parts []*fetchPartition, results []fetchResult, full bool) {
	var cur *kmsg.FetchResponseTopic
	for i, fp := range parts {
		r := results[i]
		if !full {
			sp := fp.cached
			news := r.err != 0 || len(r.data) > 0 || !sp.sent ||
				sp.highWatermark != r.highWatermark || sp.lastStable != r.lastStable || sp.logStartOffset != r.logStartOffset
			if !news {
				continue
			}
		}
		if fp.cached != nil {
			sp := fp.cached
			sp.sent = true
			sp.highWatermark, sp.lastStable, sp.logStartOffset = r.highWatermark, r.lastStable, r.logStartOffset
		}
		if cur == nil || cur.Topic != fp.key.topic || cur.TopicID != fp.key.topicID {
			t := kmsg.NewFetchResponseTopic()
			t.Topic, t.TopicID = fp.key.topic, fp.key.topicID
			resp.Topics = append(resp.Topics, t)
			cur = &resp.Topics[len(resp.Topics)-1]
		}
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition = fp.key.partition
		p.ErrorCode = r.err
		p.HighWatermark, p.LastStableOffset, p.LogStartOffset = r.highWatermark, r.lastStable, r.logStartOffset
		p.PreferredReadReplica = -1
		if req.IsolationLevel == replica.ReadCommitted {
			p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		}
		// An empty record set, never null: librdkafka and kafka-python
		// reject a null one (Kafka sends MemoryRecords.EMPTY).
		p.RecordBatches = r.data
		if p.RecordBatches == nil {
			p.RecordBatches = []byte{}
		}
		cur.Partitions = append(cur.Partitions, p)
	}
}
