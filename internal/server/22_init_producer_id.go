package server

// InitProducerId (key 22), versions 0-5, as Kafka 4.0 serves it.
//
//	v1: no change (throttle after the response).
//	v2: flexible.
//	v3: producer_id and producer_epoch in the request (KIP-360), so a
//	    producer can ask to keep its id after UNKNOWN_PRODUCER_ID.
//	v4: no change (PRODUCER_FENCED may be returned, KIP-588).
//	v5: no change (KIP-890 marker).
//
// A request without a transactional.id (an idempotent producer) gets a
// fresh producer id at epoch 0 from the node's blocks of ids
// (AllocateProducerIds, KIP-730). With KIP-360's producer id and epoch
// set it gets a fresh id too, as Kafka's
// TransactionCoordinator.handleInitProducerId does when there is no
// transactional id. A producer id and epoch must be both set or both -1
// (INVALID_REQUEST). An empty transactional.id is INVALID_REQUEST, as in
// Kafka; any other one goes to the transaction coordinator (package txn:
// fencing, KIP-360 recovery, aborting an open transaction first). When
// no block of ids has arrived in time the answer is
// COORDINATOR_LOAD_IN_PROGRESS, which clients retry.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/txn"
)

// ProducerIDs hands out producer ids (Kafka's ProducerIdManager). Safe for
// concurrent use.
type ProducerIDs interface {
	// NextProducerID returns an id never handed out before in the
	// cluster. It may wait for a block of ids until ctx ends; errors are
	// *apierror.Error (COORDINATOR_LOAD_IN_PROGRESS while none has
	// arrived).
	NextProducerID(ctx context.Context) (int64, error)
}

// initProducerIDWait bounds how long an InitProducerId waits for a block
// of producer ids before answering COORDINATOR_LOAD_IN_PROGRESS.
const initProducerIDWait = 5 * time.Second

func init() {
	register(handler{key: 22, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleInitProducerID(c, r.(*kmsg.InitProducerIDRequest)), nil
	}})
}

func (s *Server) handleInitProducerID(c *conn, req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = record.NoProducerID, record.NoProducerEpoch
	fail := func(err error) kmsg.Response {
		resp.ErrorCode = codeOf(err)
		return resp
	}
	// KafkaApis.handleInitProducerIdRequest: WRITE on the transactional
	// id; without one (idempotence), IDEMPOTENT_WRITE on the cluster or
	// WRITE on some topic (KIP-679).
	switch {
	case req.TransactionalID != nil && !c.authorized(acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionalID):
		return fail(apierror.New(kerr.TransactionalIDAuthorizationFailed, ""))
	case req.TransactionalID == nil && !c.authorizedCluster(acl.OpIdempotentWrite) && !c.authorizedAny(acl.OpWrite, acl.ResourceTopic):
		return fail(apierror.New(kerr.ClusterAuthorizationFailed, ""))
	}
	noID, noEpoch := req.ProducerID == record.NoProducerID, req.ProducerEpoch == record.NoProducerEpoch
	if req.Version >= 3 && noID != noEpoch {
		return fail(apierror.New(kerr.InvalidRequest, "producer id and epoch must both be set or both be -1"))
	}
	if req.TransactionalID != nil {
		if *req.TransactionalID == "" {
			return fail(apierror.New(kerr.InvalidRequest, "empty transactional id"))
		}
		if s.deps.Txn == nil {
			return fail(apierror.New(kerr.CoordinatorNotAvailable, ""))
		}
		r := s.deps.Txn.InitProducerID(c.ctx, txn.InitProducerIDRequest{
			Version: req.Version, TransactionalID: req.TransactionalID, TransactionTimeoutMs: req.TransactionTimeoutMillis,
			ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
		})
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = r.ErrorCode, r.ProducerID, r.ProducerEpoch
		return resp
	}
	if s.deps.ProducerIDs == nil {
		return fail(apierror.New(kerr.CoordinatorNotAvailable, ""))
	}
	ctx, cancel := context.WithTimeout(c.ctx, initProducerIDWait)
	defer cancel()
	id, err := s.deps.ProducerIDs.NextProducerID(ctx)
	if err != nil {
		return fail(err)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}
