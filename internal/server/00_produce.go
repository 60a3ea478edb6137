package server

// Produce (key 0), versions 3-13. Kafka 4.0 removed v0-2 (KIP-896) but
// still lists Produce from v0 in ApiVersions (KAFKA-18659), because
// librdkafka compresses with gzip or snappy only when the broker lists
// v0; requests at v0-2 are answered UNSUPPORTED_VERSION per partition.
//
//	v3: transactional_id; RecordBatch v2 only.   v5: log_start_offset.
//	v8: record_errors and error_message (KIP-467).   v9: flexible.
//	v10: current leader and node endpoints on NOT_LEADER (KIP-951).
//	v11: no change (KIP-890 marker).   v12: no change (KIP-890 part 2).
//	v13: topics by id (KIP-516).
//
// Each partition must carry exactly one RecordBatch v2; it is validated
// and appended by the replica layer. acks=0 sends no response; acks=1
// answers once the leader has appended; acks=-1 (all) parks the request in
// the replica purgatory until the in-sync replicas have every appended
// batch (the high watermark passes it) or timeout_ms passes, holding this
// connection's next request meanwhile, as Kafka's muted channel does.
// NOT_LEADER_OR_FOLLOWER answers name the current leader (v10+, KIP-951).
//
// Batches of idempotent producers (a producer id from InitProducerId) are
// checked against the partition's producer state: a retried batch that
// was already appended is answered NONE with the original's base offset
// (and, as Kafka does, its max timestamp as log_append_time), and with
// acks=all it waits for the original to be replicated; a sequence gap is
// OUT_OF_ORDER_SEQUENCE_NUMBER, a fenced epoch INVALID_PRODUCER_EPOCH.
//
// Transactional batches are verified first (KIP-890, Kafka's
// ReplicaManager.handleProduceAppend; see 24_add_partitions_to_txn.go):
// a request may carry the batches of one producer id and epoch only
// (INVALID_PRODUCER_ID_MAPPING for every partition otherwise); a
// partition where that producer's transaction is not open at the batch's
// epoch waits for the transactional id's coordinator, which verifies it
// is in the transaction (v≤11: INVALID_TXN_STATE if not) or, from v12
// (transaction version 2, no AddPartitionsToTxn from the producer), adds
// it; an add refused with CONCURRENT_TRANSACTIONS (the previous
// transaction's markers are being written) is asked again every
// add.partitions.to.txn.retry.backoff.ms (20) for at most
// add.partitions.to.txn.retry.backoff.max.ms (100). Coordinator errors
// the producer may not retry well (CONCURRENT_TRANSACTIONS,
// NETWORK_EXCEPTION, COORDINATOR_*, NOT_COORDINATOR) are answered as
// NOT_ENOUGH_REPLICAS, as Kafka does. The other partitions are appended
// before the wait; no lock is held during it. The append then happens
// only if no marker of the producer reached the partition meanwhile
// (replica.Partition.AppendVerified).

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/txn"
)

// produceMinVersion is the oldest Produce version served; older ones
// are listed but refused (see the top of this file).
const produceMinVersion = 3

func init() {
	register(handler{key: 0, min: 0, max: 13, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleProduce(c, r.(*kmsg.ProduceRequest))
	}})
}

func (s *Server) handleProduce(c *conn, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	im := s.image()
	acks := req.Acks
	failAll := int16(0)
	switch {
	case req.Version < produceMinVersion:
		failAll = kerr.UnsupportedVersion.Code
	case acks != 0 && acks != 1 && acks != -1:
		failAll = kerr.InvalidRequiredAcks.Code
	case req.TransactionID != nil && !c.authorized(acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionID):
		// KafkaApis.handleProduceRequest: WRITE on the transactional id.
		failAll = kerr.TransactionalIDAuthorizationFailed.Code
	}
	var txnProducer record.Header // the request's transactional producer
	if failAll == 0 {
		var ok bool
		if txnProducer, ok = produceTxnProducer(req); !ok {
			failAll = kerr.InvalidProducerIDMapping.Code
		}
	}
	if failAll != 0 {
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
				sp.ErrorCode = failAll
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		if acks == 0 {
			return nil, errorf("acks=0 produce refused with error code %d", failAll)
		}
		return resp, nil
	}
	// waiting lists the partitions appended with acks=-1, by their
	// place in the response, and names the topics for KIP-951.
	type place struct{ topic, partition int }
	var waiting []replica.PendingAck
	var waitingAt []place
	// verifying are the partitions waiting for the transaction
	// coordinator, with their place in the response.
	var verifying []*produceVerification
	verify := s.deps.Txn != nil && txnProducer.HasProducerID() &&
		(!s.cfg.NoTxnPartitionVerification || produceTxnOperation(req.Version) == txnAddPartition)
	names := make([]string, len(req.Topics))
	mayWrite := c.authorizedTopics(acl.OpWrite)
	for ti, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		topic, known := resolveTopic(im, rt.Topic, rt.TopicID)
		if known {
			names[ti] = topic.Name
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			switch {
			case !known && req.Version >= 13:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case !mayWrite(cmp.Or(names[ti], rt.Topic)):
				// WRITE on the topic, checked before its existence.
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !known:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				p, ok := s.producePartition(im, topic.Name, rp, req.Version, &sp)
				if !ok {
					break
				}
				var g *replica.TxnGuard
				if verify {
					h, _ := record.ParseHeader(rp.Records) // checked by producePartition
					if h.HasProducerID() && h.IsTransactional() && req.TransactionID != nil {
						var err error
						if g, err = p.StartTxnVerification(h.ProducerID, h.ProducerEpoch, h.BaseSequence, produceTxnOperation(req.Version) == txnAddPartition); err != nil {
							sp.ErrorCode, sp.ErrorMessage = codeOf(err), messageOf(err)
							break
						}
					}
					if g != nil {
						verifying = append(verifying, &produceVerification{
							tp: txn.TopicPartition{Topic: topic.Name, Partition: rp.Partition}, p: p, records: rp.Records,
							seq: h.BaseSequence, guard: g, topic: ti, partition: len(st.Partitions),
						})
						break
					}
				}
				if last, ok := s.appendProduced(p, rp.Records, acks, verify, g, &sp); ok && acks == -1 {
					waiting = append(waiting, replica.PendingAck{Partition: p, RequiredOffset: last + 1})
					waitingAt = append(waitingAt, place{ti, len(st.Partitions)})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(verifying) > 0 {
		s.verifyProduce(c.ctx, req, txnProducer, verifying)
		for _, v := range verifying {
			sp := &resp.Topics[v.topic].Partitions[v.partition]
			if v.code != 0 {
				sp.ErrorCode, sp.ErrorMessage = v.code, v.message
				continue
			}
			if last, ok := s.appendProduced(v.p, v.records, acks, true, v.guard, sp); ok && acks == -1 {
				waiting = append(waiting, replica.PendingAck{Partition: v.p, RequiredOffset: last + 1})
				waitingAt = append(waitingAt, place{v.topic, v.partition})
			}
		}
	}
	if len(waiting) > 0 {
		// acks=all: wait for the ISR (Kafka's DelayedProduce). Only this
		// connection waits; Server.Close wakes it.
		d := s.deps.Replicas.Purgatory().Add(waiting, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		errs, err := d.Wait(c.ctx)
		if err != nil {
			// The server is closing, and with it this connection: no
			// answer (the client retries elsewhere).
			return nil, nil
		}
		for i, err := range errs {
			if err == nil {
				continue
			}
			sp := &resp.Topics[waitingAt[i].topic].Partitions[waitingAt[i].partition]
			if errors.Is(err, replica.ErrClosed) {
				// The replica layer shut down under the request: as
				// for a leader that stepped down, go elsewhere.
				err = apierror.New(kerr.NotLeaderForPartition, "The broker is shutting down.")
			}
			sp.ErrorCode, sp.ErrorMessage = codeOf(err), messageOf(err)
		}
	}
	if req.Version >= 10 {
		s.produceCurrentLeaders(im, c.listener.Name, names, resp)
	}
	if acks == 0 {
		// No response; a failure closes the connection, the only signal
		// an acks=0 producer gets (as in Kafka).
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return nil, errorf("acks=0 produce to partition %d failed with error code %d", p.Partition, p.ErrorCode)
				}
			}
		}
		return nil, nil
	}
	return resp, nil
}

// checkProduceRecords applies Kafka's ProduceRequest.validateRecords and
// the framing checks of its batch iterator to one partition's records:
// exactly one whole batch of magic 2 (INVALID_RECORD otherwise), a length
// field of at least 14 and a known magic (CORRUPT_MESSAGE otherwise), and
// zstd only from Produce v7 (UNSUPPORTED_COMPRESSION_TYPE).
func checkProduceRecords(b []byte, version int16) error {
	const headerUpToMagic = 17 // baseOffset, length, leader epoch, magic
	const minRecordOverhead = 14
	noBatch := apierror.New(kerr.InvalidRecord, "Produce requests with version %d must have at least one record batch per partition", version)
	if len(b) < headerUpToMagic {
		return noBatch
	}
	length := int32(binary.BigEndian.Uint32(b[8:]))
	if length < minRecordOverhead {
		return apierror.New(kerr.CorruptMessage, "Record size %d is less than the minimum record overhead (%d)", length, minRecordOverhead)
	}
	if int64(len(b)) < int64(length)+record.LogOverhead {
		return noBatch
	}
	magic := int8(b[16])
	if magic < 0 || magic > 2 {
		return apierror.New(kerr.CorruptMessage, "Invalid magic found in record: %d", magic)
	}
	if magic != 2 {
		return apierror.New(kerr.InvalidRecord, "Produce requests with version %d are only allowed to contain record batches with magic version 2", version)
	}
	if int64(len(b)) > int64(length)+record.LogOverhead {
		return apierror.New(kerr.InvalidRecord, "Produce requests with version %d are only allowed to contain exactly one record batch per partition", version)
	}
	if h, err := record.ParseHeader(b); err == nil && h.Codec() == record.CodecZstd && version < 7 {
		return apierror.New(kerr.UnsupportedCompressionType, "Produce requests with version %d cannot use zstd compression (needs v7 or later)", version)
	}
	return nil
}

// producePartition checks one partition's batch and returns the
// partition to append it to (ok), or fills the answer's error.
func (s *Server) producePartition(im *metadata.Image, topic string, rp kmsg.ProduceRequestTopicPartition, version int16, sp *kmsg.ProduceResponseTopicPartition) (p *replica.Partition, ok bool) {
	p, err := s.hostedPartition(im, topic, rp.Partition)
	if err != nil {
		sp.ErrorCode = codeOf(err)
		if sp.ErrorCode == kerr.NotLeaderForPartition.Code {
			sp.ErrorMessage = messageOf(err)
		}
		return nil, false
	}
	if err := checkProduceRecords(rp.Records, version); err != nil {
		sp.ErrorCode, sp.ErrorMessage = codeOf(err), messageOf(err)
		return nil, false
	}
	return p, true
}

// appendProduced appends one partition's batch, with transaction
// verification if verify (under g), and fills its answer. It returns the
// last offset appended when the append succeeded (ok).
func (s *Server) appendProduced(p *replica.Partition, records []byte, acks int16, verify bool, g *replica.TxnGuard, sp *kmsg.ProduceResponseTopicPartition) (lastOffset int64, ok bool) {
	var res replica.AppendResult
	var err error
	if verify {
		res, err = p.AppendVerified(records, acks, g)
	} else {
		res, err = p.Append(records, acks)
	}
	if err != nil {
		sp.ErrorCode = codeOf(err)
		sp.ErrorMessage = messageOf(err)
		var ve *record.ValidationError
		if errors.As(err, &ve) {
			msg := ve.Message
			sp.ErrorMessage = &msg
			for _, r := range ve.RecordErrors {
				re := kmsg.NewProduceResponseTopicPartitionErrorRecord()
				re.RelativeOffset = r.BatchIndex
				m := r.Message
				re.ErrorMessage = &m
				sp.ErrorRecords = append(sp.ErrorRecords, re)
			}
		}
		return -1, false
	}
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	return res.LastOffset, true
}

// produceTxnProducer returns the header of the request's first
// transactional batch (a zero header, without producer id, if there is
// none). ok is false if transactional batches of more than one producer
// id and epoch are in the request (Kafka's InvalidPidMappingException:
// "Transactional records contained more than one producer ID").
func produceTxnProducer(req *kmsg.ProduceRequest) (h record.Header, ok bool) {
	h.ProducerID = record.NoProducerID
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			bh, err := record.ParseHeader(rp.Records)
			if err != nil || !bh.HasProducerID() || !bh.IsTransactional() {
				continue
			}
			if h.HasProducerID() && (bh.ProducerID != h.ProducerID || bh.ProducerEpoch != h.ProducerEpoch) {
				return h, false
			}
			if !h.HasProducerID() {
				h = bh
			}
		}
	}
	return h, true
}

// produceVerification is one partition of a produce request waiting for
// the transaction coordinator.
type produceVerification struct {
	tp      txn.TopicPartition
	p       *replica.Partition
	records []byte
	seq     int32
	guard   *replica.TxnGuard
	// topic and partition are its place in the response.
	topic, partition int
	// code and message are the verification's outcome (0: append).
	code    int16
	message *string
}

// Kafka's add.partitions.to.txn.retry.backoff.ms and
// add.partitions.to.txn.retry.backoff.max.ms defaults.
const (
	addPartitionsRetryBackoff    = 20 * time.Millisecond
	addPartitionsRetryBackoffMax = 100 * time.Millisecond
)

// verifyProduce asks the coordinator of the request's transactional id
// about the partitions of vs (Kafka's handleProduceAppend with
// maybeRetryOnConcurrentTransactions) and sets each one's outcome, with
// the codes a producer expects.
func (s *Server) verifyProduce(ctx context.Context, req *kmsg.ProduceRequest, h record.Header, vs []*produceVerification) {
	op := produceTxnOperation(req.Version)
	start := s.cfg.Now()
	left := vs
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// Verify again from the start: a marker may have made the
			// guards stale meanwhile.
			var again []*produceVerification
			for _, v := range left {
				g, err := v.p.StartTxnVerification(h.ProducerID, h.ProducerEpoch, v.seq, op == txnAddPartition)
				switch {
				case err != nil:
					v.code, v.message = codeOf(err), messageOf(err)
				case g == nil: // opened meanwhile (another request)
					v.guard, v.code = nil, 0
				default:
					v.guard = g
					again = append(again, v)
				}
			}
			if left = again; len(left) == 0 {
				break
			}
		}
		parts := make([]txn.TopicPartition, len(left))
		for i, v := range left {
			parts[i] = v.tp
		}
		codes := s.verifyTxn(ctx, *req.TransactionID, h.ProducerID, h.ProducerEpoch, parts, op)
		var concurrent []*produceVerification
		for i, v := range left {
			v.code = codes[i]
			if v.code == kerr.ConcurrentTransactions.Code {
				concurrent = append(concurrent, v)
			}
		}
		if op != txnAddPartition || len(concurrent) == 0 || s.cfg.Now().Sub(start) >= min(addPartitionsRetryBackoffMax, s.cfg.ForwardTimeout) {
			break
		}
		t := time.NewTimer(addPartitionsRetryBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		left = concurrent
	}
	for _, v := range vs {
		if v.message == nil {
			v.code, v.message = produceVerificationError(v.code)
		}
	}
}

// produceVerificationError maps a verification outcome to the producer's
// answer (Kafka's postVerificationCallback): INVALID_TXN_STATE says the
// partition was not added; errors older producers may not retry become
// NOT_ENOUGH_REPLICAS, which they retry without a metadata refresh.
func produceVerificationError(code int16) (int16, *string) {
	switch code {
	case 0:
		return 0, nil
	case kerr.InvalidTxnState.Code:
		msg := "Partition was not added to the transaction"
		return code, &msg
	case kerr.ConcurrentTransactions.Code, kerr.NetworkException.Code, kerr.CoordinatorLoadInProgress.Code,
		kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		msg := "Unable to verify the partition has been added to the transaction. Underlying error: " + kerr.ErrorForCode(code).Error()
		return kerr.NotEnoughReplicas.Code, &msg
	}
	return code, nil
}

// produceCurrentLeaders fills, for every NOT_LEADER_OR_FOLLOWER partition,
// the current leader and the leaders' endpoints on listener (Produce v10+,
// KIP-951), so the client retries at the new leader without a metadata
// round trip. names[i] is the resolved name of the request's topic i.
func (s *Server) produceCurrentLeaders(im *metadata.Image, listener string, names []string, resp *kmsg.ProduceResponse) {
	seen := map[int32]bool{}
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			sp := &resp.Topics[ti].Partitions[pi]
			if sp.ErrorCode != kerr.NotLeaderForPartition.Code || names[ti] == "" {
				continue
			}
			cl := s.currentLeader(im, names[ti], sp.Partition, listener)
			sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = cl.id, cl.epoch
			if cl.hasNode && !seen[cl.node.id] {
				seen[cl.node.id] = true
				b := kmsg.NewProduceResponseBroker()
				b.NodeID, b.Host, b.Port, b.Rack = cl.node.id, cl.node.host, cl.node.port, cl.node.rack
				resp.Brokers = append(resp.Brokers, b)
			}
		}
	}
}
