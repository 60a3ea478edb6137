package server

// FindCoordinator (key 10), versions 0-6.
//
//	v1: key_type (0 group, 1 transaction), throttle, error_message.
//	v2: no change.   v3: flexible.
//	v4: batched coordinator_keys, one result each (KIP-699).
//	v5: no change (KIP-890 marker).   v6: key type 2, share groups
//	(KIP-932).
//
// The coordinator of a group is the leader of its __consumer_offsets
// partition, that of a transactional id the leader of its
// __transaction_state partition. As in Kafka, a missing internal topic
// is created on the first lookup (offsets.topic.* or
// transaction.state.log.*) and the lookup answers
// COORDINATOR_NOT_AVAILABLE; clients retry. Share groups are not
// enabled: key type 2 is INVALID_REQUEST, as on a Kafka without share
// groups.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/txn"
)

func init() {
	register(handler{key: 10, min: 0, max: 6, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleFindCoordinator(c, r.(*kmsg.FindCoordinatorRequest)), nil
	}})
}

// Coordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func (s *Server) handleFindCoordinator(c *conn, req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if req.Version < 4 {
		code, node, host, port := s.findCoordinator(c, req.CoordinatorType, req.CoordinatorKey)
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = code, node, host, port
		msg := errorName(code)
		resp.ErrorMessage = &msg
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		code, node, host, port := s.findCoordinator(c, req.CoordinatorType, key)
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key, rc.ErrorCode, rc.NodeID, rc.Host, rc.Port = key, code, node, host, port
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return resp
}

// errorName is Kafka's Errors.message(): the default message of an
// error, "NONE" for no error.
func errorName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.TypedErrorForCode(code).Description
}

// findCoordinator returns the coordinator of key, or an error and
// Kafka's "no node" (-1, "", -1).
func (s *Server) findCoordinator(c *conn, keyType int8, key string) (code int16, node int32, host string, port int32) {
	none := func(code int16) (int16, int32, string, int32) { return code, -1, "", -1 }
	var (
		topic       string
		partitionOf func(key string, n int32) int32
		create      func() error
	)
	// KafkaApis.getCoordinator: DESCRIBE on the group or the
	// transactional id, before anything else.
	switch {
	case keyType == coordinatorGroup && !c.authorized(acl.OpDescribe, acl.ResourceGroup, key):
		return none(kerr.GroupAuthorizationFailed.Code)
	case keyType == coordinatorTransaction && !c.authorized(acl.OpDescribe, acl.ResourceTransactionalID, key):
		return none(kerr.TransactionalIDAuthorizationFailed.Code)
	}
	switch keyType {
	case coordinatorGroup:
		if s.deps.Groups == nil {
			return none(kerr.CoordinatorNotAvailable.Code)
		}
		topic, partitionOf, create = group.TopicName, group.PartitionFor, s.deps.Groups.CreateTopic
	case coordinatorTransaction:
		if s.deps.Txn == nil {
			return none(kerr.CoordinatorNotAvailable.Code)
		}
		topic, partitionOf, create = txn.TopicName, txn.PartitionFor, s.deps.Txn.CreateTopic
	default:
		return none(kerr.InvalidRequest.Code)
	}
	t, ok := s.image().Topic(topic)
	if !ok {
		if err := create(); err != nil {
			s.log.Warn("cannot create "+topic, "err", err)
		}
		return none(kerr.CoordinatorNotAvailable.Code)
	}
	p := partitionOf(key, int32(len(t.Partitions)))
	leader := t.Partitions[p].Leader
	if leader == s.cfg.NodeID {
		host, port = s.advertised(c.listener.Name)
		return 0, s.cfg.NodeID, host, port
	}
	// The coordinator is the partition's leader on another broker: its
	// endpoint on the listener the client came in on.
	n, ok := s.aliveBroker(s.image(), leader, c.listener.Name)
	if leader < 0 || !ok {
		return none(kerr.CoordinatorNotAvailable.Code)
	}
	return 0, n.id, n.host, n.port
}
