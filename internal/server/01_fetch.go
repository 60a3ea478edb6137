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
//
// Who fetches decides what is read:
//
//	replica id >= 0 (replica_id before v15,   a follower: ReadForFollower,
//	  replica_state.replica_id from v15)      up to the leader's log end,
//	                                          DivergingEpoch (v12+); its
//	                                          progress moves the HW
//	consumer, v11+                            the leader, or a follower up
//	                                          to its own HW (KIP-392); the
//	                                          leader may answer
//	                                          preferred_read_replica
//	consumer, v4-10                           the leader only
//
// NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH answers to consumers name
// the current leader and its endpoint (v16+, KIP-951).
//
// Isolation (KIP-98): read_uncommitted reads up to the high watermark;
// read_committed up to the last stable offset, and each partition's
// aborted_transactions lists the producer id and first offset of every
// aborted transaction overlapping the returned batches, from the
// partitions' transaction indexes, so that the consumer drops their
// records (a follower serving a consumer, KIP-392, answers from its own
// copy). aborted_transactions is null for read_uncommitted, as in Kafka.
//
// Replication quotas (KIP-73): a follower's partition throttled by the
// leader quota (leader.replication.throttled.replicas names it for this
// broker) gets no records while the quota is exceeded, unless the
// follower is in the ISR; its progress is still recorded. The records of
// throttled partitions that are sent count against the quota.

import (
	"cmp"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/storage"
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
	// A follower's last_fetched_epoch and log_start_offset (-1 if none).
	lastFetchedEpoch      int32
	replicaLogStartOffset int64

	p   *replica.Partition
	err error
}

// fetchParams is who is fetching and how (Kafka's FetchParams).
type fetchParams struct {
	// replicaID is the fetching follower's broker id, -1 for consumers.
	replicaID    int32
	replicaEpoch int64
	isolation    int8
	// clientMetadata is set from Fetch v11 (KIP-392): a consumer may be
	// served by a follower, and sent to one in its rack.
	clientMetadata bool
	rack           string
	listener       string
}

func (f *fetchParams) fromFollower() bool { return f.replicaID >= 0 }

// fetchReplica returns who sent a Fetch: the follower's broker id and
// epoch (replica_id before v15, replica_state from v15, KIP-903), or -1.
func fetchReplica(req *kmsg.FetchRequest) (id int32, epoch int64) {
	if req.Version >= 15 {
		return req.ReplicaState.ID, req.ReplicaState.Epoch
	}
	return req.ReplicaID, -1
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
			for i := range rt.Partitions {
				rp := &rt.Partitions[i]
				parts = append(parts, &fetchPartition{
					key:         keyOf(rt.Topic, rt.TopicID, rp.Partition),
					fetchOffset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes, currentLeaderEpoch: rp.CurrentLeaderEpoch,
					lastFetchedEpoch: rp.LastFetchedEpoch, replicaLogStartOffset: rp.LogStartOffset,
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
			for i := range rt.Partitions {
				rp := &rt.Partitions[i]
				sess.upsert(keyOf(rt.Topic, rt.TopicID, rp.Partition), rp)
			}
		}
		for _, k := range sess.order {
			sp := sess.partition[k]
			parts = append(parts, &fetchPartition{
				key: k, cached: sp,
				fetchOffset: sp.fetchOffset, maxBytes: sp.maxBytes, currentLeaderEpoch: sp.currentLeaderEpoch,
				lastFetchedEpoch: sp.lastFetchedEpoch, replicaLogStartOffset: sp.replicaLogStartOffset,
			})
		}
		resp.SessionID = sess.id
	}
	var watch []*replica.Partition
	// KafkaApis.handleFetchRequest: a follower needs CLUSTER_ACTION on
	// the cluster, a consumer READ on each topic (checked before the
	// topic's existence when it is named).
	replicaID, _ := fetchReplica(req)
	mayRead := c.authorizedTopics(acl.OpRead)
	if replicaID >= 0 {
		clusterAction := c.authorizedCluster(acl.OpClusterAction)
		mayRead = func(string) bool { return clusterAction }
	}
	for _, fp := range parts {
		topic, ok := resolveTopic(im, fp.key.topic, fp.key.topicID)
		if name := fp.key.topic; (ok || !useIDs) && !mayRead(cmp.Or(name, topicName(topic))) {
			fp.err = apierror.New(kerr.TopicAuthorizationFailed, "")
			continue
		}
		if !ok {
			fp.err = apierror.New(kerr.UnknownTopicOrPartition, "")
			if useIDs {
				fp.err = apierror.New(kerr.UnknownTopicID, "")
			}
			continue
		}
		fp.name = topic.Name
		p, err := s.hostedPartition(im, topic.Name, fp.key.partition)
		if err != nil {
			fp.err = err
			continue
		}
		fp.p = p
		watch = append(watch, p)
	}

	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > s.cfg.FetchMaxBytes {
		maxBytes = s.cfg.FetchMaxBytes
	}
	params := fetchParams{isolation: req.IsolationLevel, clientMetadata: req.Version >= 11, rack: req.Rack, listener: c.listener.Name}
	params.replicaID, params.replicaEpoch = fetchReplica(req)
	if params.fromFollower() {
		// Followers read everything they do not have; isolation is a
		// consumer's notion, and so is the rack.
		params.isolation, params.clientMetadata = replica.ReadUncommitted, false
	}

	// Long poll: read; if not enough, wait for an append or the deadline.
	deadline := s.cfg.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	var waiter *replica.Waiter
	defer func() {
		if waiter != nil {
			waiter.Close()
		}
	}()
	reread := false
	for {
		results, total, answerNow := s.readFetch(im, parts, maxBytes, &params, reread)
		reread = true
		if total >= int(req.MinBytes) || answerNow || req.MaxWaitMillis <= 0 || !s.cfg.Now().Before(deadline) || len(watch) == 0 {
			s.fillFetchResponse(im, resp, req, &params, parts, results, full)
			s.recordLeaderThrottled(&params, parts, results)
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
			s.fillFetchResponse(im, resp, req, &params, parts, results, full)
			s.recordLeaderThrottled(&params, parts, results)
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
	// divergingEpoch and divergingEndOffset answer a follower whose log
	// diverges (KIP-320); -1 otherwise.
	divergingEpoch     int32
	divergingEndOffset int64
	// preferredReadReplica sends a consumer to a follower (KIP-392); -1
	// to read here.
	preferredReadReplica int32
	// aborted are, for read_committed, the aborted transactions the data
	// overlaps.
	aborted []storage.AbortedTxn
}

// readFetch reads every partition within the byte limits (KIP-74: the
// first batch of the first partition with data is returned whole even
// when larger than the limits). answerNow is set when the response must
// not wait for more data: an error, a diverging epoch, or a preferred
// read replica (Kafka's DelayedFetch conditions). reread marks the
// re-reads of a long poll, which do not record a follower's progress
// again.
func (s *Server) readFetch(im *metadata.Image, parts []*fetchPartition, maxBytes int32, params *fetchParams, reread bool) (results []fetchResult, total int, answerNow bool) {
	results = make([]fetchResult, len(parts))
	remaining := int(maxBytes)
	for i, fp := range parts {
		r := &results[i]
		r.highWatermark, r.lastStable, r.logStartOffset = -1, -1, -1
		r.divergingEpoch, r.divergingEndOffset, r.preferredReadReplica = -1, -1, -1
		if fp.err != nil {
			r.err = codeOf(fp.err)
			answerNow = true
			continue
		}
		limit := int(fp.maxBytes)
		if limit > remaining {
			limit = remaining
		}
		if limit < 0 {
			limit = 0
		}
		var data []byte
		var err error
		switch {
		case params.fromFollower():
			var fr replica.FollowerReadResult
			fr, err = fp.p.ReadForFollower(replica.FollowerFetch{
				ReplicaID:          params.replicaID,
				BrokerEpoch:        params.replicaEpoch,
				CurrentLeaderEpoch: fp.currentLeaderEpoch,
				FetchOffset:        fp.fetchOffset,
				LastFetchedEpoch:   fp.lastFetchedEpoch,
				LogStartOffset:     fp.replicaLogStartOffset,
				MaxBytes:           limit,
				MinOneBatch:        total == 0,
				SkipStateUpdate:    reread,
			})
			r.highWatermark, r.lastStable, r.logStartOffset = fr.HighWatermark, fr.LastStableOffset, fr.LogStartOffset
			r.divergingEpoch, r.divergingEndOffset = fr.DivergingEpoch, fr.DivergingEndOffset
			if r.divergingEpoch >= 0 {
				answerNow = true
			}
			data = fr.Data
			if err == nil && len(data) > 0 && s.deps.Replicas.ShouldLeaderThrottle(fp.p, params.replicaID) {
				// KIP-73: read (so the follower's progress counts), but
				// send no records; they do not count toward min_bytes.
				data = nil
			}
		case params.clientMetadata:
			if pref := s.preferredReadReplica(im, fp.p, fp.fetchOffset, params.rack, params.listener); pref >= 0 {
				// Skip the read; the consumer goes to pref.
				l := fp.p.Log()
				r.preferredReadReplica = pref
				r.highWatermark, r.logStartOffset = l.HighWatermark(), l.LogStartOffset()
				r.lastStable = min(l.LastStableOffset(), r.highWatermark)
				answerNow = true
				continue
			}
			var rr replica.ReadResult
			rr, err = fp.p.ReadFromReplica(fp.fetchOffset, limit, params.isolation, fp.currentLeaderEpoch, total == 0)
			r.highWatermark, r.lastStable, r.logStartOffset = rr.HighWatermark, rr.LastStableOffset, rr.LogStartOffset
			data, r.aborted = rr.Data, rr.AbortedTransactions
		default:
			var rr replica.ReadResult
			rr, err = fp.p.Read(fp.fetchOffset, limit, params.isolation, fp.currentLeaderEpoch, total == 0)
			r.highWatermark, r.lastStable, r.logStartOffset = rr.HighWatermark, rr.LastStableOffset, rr.LogStartOffset
			data, r.aborted = rr.Data, rr.AbortedTransactions
		}
		if err != nil {
			r.err = codeOf(err)
			if r.err != kerr.OffsetOutOfRange.Code {
				// Kafka's createLogReadResult(e): offsets unknown. An
				// out-of-range fetch keeps the log's offsets, so the
				// consumer sees where the log is.
				r.highWatermark, r.lastStable, r.logStartOffset = -1, -1, -1
			}
			answerNow = true
			continue
		}
		r.data = data
		total += len(data)
		remaining -= len(data)
	}
	return results, total, answerNow
}

// recordLeaderThrottled adds the records sent to a follower for
// partitions the leader quota throttles to its measured rate (Kafka's
// sizeOfThrottledPartitions; Kafka counts the partitions' whole encoded
// size, Gregor their records).
func (s *Server) recordLeaderThrottled(params *fetchParams, parts []*fetchPartition, results []fetchResult) {
	if !params.fromFollower() {
		return
	}
	var q *replica.ReplicationQuota
	n := 0
	for i, fp := range parts {
		if len(results[i].data) == 0 || fp.p == nil {
			continue
		}
		if q == nil {
			q = s.deps.Replicas.LeaderQuota()
		}
		if q.IsThrottled(fp.p.Topic, fp.p.Index) {
			n += len(results[i].data)
		}
	}
	if q != nil {
		q.Record(n)
	}
}

func (s *Server) fillFetchResponse(im *metadata.Image, resp *kmsg.FetchResponse, req *kmsg.FetchRequest, params *fetchParams, parts []*fetchPartition, results []fetchResult, full bool) {
	var cur *kmsg.FetchResponseTopic
	var leaders map[int32]bool // endpoints listed (KIP-951)
	for i, fp := range parts {
		r := results[i]
		if !full {
			sp := fp.cached
			news := r.err != 0 || len(r.data) > 0 || !sp.sent || r.divergingEpoch >= 0 || r.preferredReadReplica >= 0 ||
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
		p.PreferredReadReplica = r.preferredReadReplica
		p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = r.divergingEpoch, r.divergingEndOffset
		if req.IsolationLevel == replica.ReadCommitted {
			// Never null for read_committed (Kafka sends an empty list).
			p.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(r.aborted))
			for _, t := range r.aborted {
				a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				a.ProducerID, a.FirstOffset = t.ProducerID, t.FirstOffset
				p.AbortedTransactions = append(p.AbortedTransactions, a)
			}
		}
		if req.Version >= 16 && !params.fromFollower() && fp.name != "" &&
			(r.err == kerr.NotLeaderForPartition.Code || r.err == kerr.FencedLeaderEpoch.Code) {
			cl := s.currentLeader(im, fp.name, fp.key.partition, params.listener)
			p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = cl.id, cl.epoch
			if cl.hasNode && !leaders[cl.node.id] {
				if leaders == nil {
					leaders = map[int32]bool{}
				}
				leaders[cl.node.id] = true
				b := kmsg.NewFetchResponseBroker()
				b.NodeID, b.Host, b.Port, b.Rack = cl.node.id, cl.node.host, cl.node.port, cl.node.rack
				resp.Brokers = append(resp.Brokers, b)
			}
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
