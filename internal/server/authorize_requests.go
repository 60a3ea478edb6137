package server

// The checks that decide a whole request before its handler runs (and
// before a broker forwards it to the active controller): those on the
// CLUSTER, and those on the one group or transactional id a request
// names. A denied request is answered with Kafka's error in the
// response's top-level error code, or in every result where the
// response has none. Checks per topic, per group or per config resource
// are in the handlers; for the admin requests a broker forwards
// (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs,
// IncrementalAlterConfigs) the denied resources are taken out of the
// request here and answered after the rest (authorize_split.go).
//
//	key  API                          listener    needs
//	 1   Fetch (metadata log)         controller  CLUSTER_ACTION on CLUSTER
//	11   JoinGroup, 12 Heartbeat,     broker      READ on the group
//	13   LeaveGroup, 14 SyncGroup
//	25   AddOffsetsToTxn              broker      WRITE on the transactional id, READ on the group
//	26   EndTxn                       broker      WRITE on the transactional id
//	27   WriteTxnMarkers              broker      CLUSTER_ACTION on CLUSTER
//	35   DescribeLogDirs              broker      DESCRIBE on CLUSTER
//	43   ElectLeaders                 both        ALTER on CLUSTER
//	45   AlterPartitionReassignments  both        ALTER on CLUSTER
//	46   ListPartitionReassignments   both        DESCRIBE on CLUSTER
//	48   DescribeClientQuotas         broker      DESCRIBE_CONFIGS on CLUSTER
//	49   AlterClientQuotas            both        ALTER_CONFIGS on CLUSTER
//	50   DescribeUserScramCredentials broker      DESCRIBE on CLUSTER
//	51   AlterUserScramCredentials    both        ALTER on CLUSTER
//	55   DescribeQuorum               both        DESCRIBE on CLUSTER
//	56   AlterPartition, 58 Envelope, 59 FetchSnapshot, 62 BrokerRegistration,
//	     63 BrokerHeartbeat, 67 AllocateProducerIds, 82 UpdateRaftVoter
//	                                  controller  CLUSTER_ACTION on CLUSTER
//	57   UpdateFeatures               both        ALTER on CLUSTER
//	64   UnregisterBroker, 80 AddRaftVoter, 81 RemoveRaftVoter
//	                                  controller  ALTER on CLUSTER
//	68   ConsumerGroupHeartbeat       broker      READ on the group, DESCRIBE on subscribed topics

import (
	"reflect"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

// requestCheck decides a request: nil to serve it, else the response
// that refuses it.
type requestCheck func(c *conn, req kmsg.Request) kmsg.Response

// cluster is a check of op on the CLUSTER answered with
// CLUSTER_AUTHORIZATION_FAILED.
func cluster(op acl.Operation) requestCheck {
	return func(c *conn, req kmsg.Request) kmsg.Response {
		if c.authorizedCluster(op) {
			return nil
		}
		return refuse(req, kerr.ClusterAuthorizationFailed, "")
	}
}

// groupRead is READ on the group a request names.
func groupRead(name func(kmsg.Request) string) requestCheck {
	return func(c *conn, req kmsg.Request) kmsg.Response {
		if c.authorized(acl.OpRead, acl.ResourceGroup, name(req)) {
			return nil
		}
		return refuse(req, kerr.GroupAuthorizationFailed, "")
	}
}

// brokerChecks apply on broker listeners, and on controller listeners to
// the broker handlers they share (handlers.go).
var brokerChecks = map[int16]requestCheck{
	11: groupRead(func(r kmsg.Request) string { return r.(*kmsg.JoinGroupRequest).Group }),
	12: groupRead(func(r kmsg.Request) string { return r.(*kmsg.HeartbeatRequest).Group }),
	13: groupRead(func(r kmsg.Request) string { return r.(*kmsg.LeaveGroupRequest).Group }),
	14: groupRead(func(r kmsg.Request) string { return r.(*kmsg.SyncGroupRequest).Group }),
	25: func(c *conn, req kmsg.Request) kmsg.Response {
		r := req.(*kmsg.AddOffsetsToTxnRequest)
		switch {
		case !c.authorized(acl.OpWrite, acl.ResourceTransactionalID, r.TransactionalID):
			return refuse(req, kerr.TransactionalIDAuthorizationFailed, "")
		case !c.authorized(acl.OpRead, acl.ResourceGroup, r.Group):
			return refuse(req, kerr.GroupAuthorizationFailed, "")
		}
		return nil
	},
	26: func(c *conn, req kmsg.Request) kmsg.Response {
		if c.authorized(acl.OpWrite, acl.ResourceTransactionalID, req.(*kmsg.EndTxnRequest).TransactionalID) {
			return nil
		}
		return refuse(req, kerr.TransactionalIDAuthorizationFailed, "")
	},
	27: cluster(acl.OpClusterAction),
	35: cluster(acl.OpDescribe),
	43: cluster(acl.OpAlter),
	45: cluster(acl.OpAlter),
	46: cluster(acl.OpDescribe),
	48: cluster(acl.OpDescribeConfigs),
	49: cluster(acl.OpAlterConfigs),
	50: cluster(acl.OpDescribe),
	51: cluster(acl.OpAlter),
	55: cluster(acl.OpDescribe),
	57: cluster(acl.OpAlter),
	68: func(c *conn, req kmsg.Request) kmsg.Response {
		r := req.(*kmsg.ConsumerGroupHeartbeatRequest)
		if !c.authorized(acl.OpRead, acl.ResourceGroup, r.Group) {
			return refuse(req, kerr.GroupAuthorizationFailed, "")
		}
		var denied []string
		for _, t := range r.SubscribedTopicNames {
			if !c.authorized(acl.OpDescribe, acl.ResourceTopic, t) {
				denied = append(denied, t)
			}
		}
		if len(denied) > 0 {
			return refuse(req, kerr.TopicAuthorizationFailed, "The client is not authorized to describe topics: "+strings.Join(denied, ", ")+".")
		}
		return nil
	},
}

// controllerChecks apply to the controller listeners' own handlers.
var controllerChecks = map[int16]requestCheck{
	1:  cluster(acl.OpClusterAction),
	49: cluster(acl.OpAlterConfigs),
	51: cluster(acl.OpAlter),
	55: cluster(acl.OpDescribe),
	56: cluster(acl.OpClusterAction),
	57: cluster(acl.OpAlter),
	58: cluster(acl.OpClusterAction), // Envelope
	59: cluster(acl.OpClusterAction),
	62: cluster(acl.OpClusterAction),
	63: cluster(acl.OpClusterAction),
	64: cluster(acl.OpAlter),
	67: cluster(acl.OpClusterAction),
	80: cluster(acl.OpAlter),
	81: cluster(acl.OpAlter),
	82: cluster(acl.OpClusterAction),
}

// checkRequest runs the request-wide check of req's API on this
// listener: nil to serve req, else the refusal to send.
func (c *conn) checkRequest(req kmsg.Request) kmsg.Response {
	if c.s.deps.Authorizer == nil {
		return nil
	}
	key := req.Key()
	check := brokerChecks[key]
	if c.s.cfg.ControllerEndpoint && controllerHandlers[key] != nil {
		check = controllerChecks[key]
	}
	if check == nil {
		return nil
	}
	return check(c, req)
}

// refuse answers req with code (and msg, if not empty): in the
// response's top-level error code when it has one, else in every result
// of the responses without one.
func refuse(req kmsg.Request, code *kerr.Error, msg string) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.ElectLeadersRequest, *kmsg.AlterUserSCRAMCredentialsRequest, *kmsg.AlterClientQuotasRequest:
		return failedResponse(req, code) // forward.go
	case *kmsg.WriteTxnMarkersRequest:
		resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
		for _, m := range r.Markers {
			rm := kmsg.NewWriteTxnMarkersResponseMarker()
			rm.ProducerID = m.ProducerID
			for _, t := range m.Topics {
				rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
					rp.Partition, rp.ErrorCode = p, code.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				rm.Topics = append(rm.Topics, rt)
			}
			resp.Markers = append(resp.Markers, rm)
		}
		return resp
	}
	resp := req.ResponseKind()
	v := reflect.ValueOf(resp).Elem()
	f := v.FieldByName("ErrorCode")
	if !f.IsValid() || f.Kind() != reflect.Int16 {
		// Every API checked here has a top-level error code or a case
		// above.
		panic("server: no way to refuse " + kmsg.NameForKey(req.Key()))
	}
	f.SetInt(int64(code.Code))
	if m := v.FieldByName("ErrorMessage"); msg != "" && m.IsValid() && m.Type() == reflect.TypeFor[*string]() {
		m.Set(reflect.ValueOf(&msg))
	}
	return resp
}
