package acl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gregor-streaming/gregor/internal/acl"
)

// names are a case's own resources.
type names struct {
	user, principal, topic, group, txnID string
	// admin is the super user's client, to look up topic ids; addr is
	// the broker's.
	admin *kgo.Client
	addr  string
}

// matrixCase is one row of Kafka's "Operations and Resources on
// Protocols" table: run sends the request as the case's own user and
// returns the error code that decides it; without grant it must be
// denied, with grant allowed (allowedOK, else 0).
type matrixCase struct {
	name      string
	setup     func(t *testing.T, admin *kgo.Client, n names)
	grant     func(n names) []acl.Binding
	run       func(t *testing.T, cl *kgo.Client, n names) int16
	denied    *kerr.Error
	allowedOK func(code int16) bool
	// unchanged checks, after the denied attempt, that nothing was
	// written.
	unchanged func(t *testing.T, admin *kgo.Client, n names)
}

const (
	rTopic   = acl.ResourceTopic
	rGroup   = acl.ResourceGroup
	rCluster = acl.ResourceCluster
	rTxn     = acl.ResourceTransactionalID
)

func clusterACL(p string, op acl.Operation) acl.Binding {
	return allow(rCluster, acl.ClusterName, p, op)
}

func topicReq(name string) kmsg.MetadataRequestTopic {
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(name)
	return t
}

func metadataCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{topicReq(topic)}
	return send[*kmsg.MetadataResponse](t, cl, req).Topics[0].ErrorCode
}

func topicID(t *testing.T, admin *kgo.Client, topic string) [16]byte {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{topicReq(topic)}
	return send[*kmsg.MetadataResponse](t, admin, req).Topics[0].TopicID
}

// commitOffset commits offset 5 of partition 0 of topic for group as a
// simple (generation -1) consumer and returns the partition's code.
func commitOffset(t *testing.T, cl, admin *kgo.Client, group, topic string) int16 {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID(t, admin, topic) // v10 names topics by id
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 5
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(1).Request(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

// committedOffset is group's offset of partition 0 of topic as admin
// sees it; -1 for none.
func committedOffset(t *testing.T, admin *kgo.Client, group, topic string) int64 {
	req := kmsg.NewPtrOffsetFetchRequest()
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.TopicID, rt.Partitions = topic, topicID(t, admin, topic), []int32{0}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp, err := admin.Broker(1).Request(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	g := resp.(*kmsg.OffsetFetchResponse).Groups[0]
	if g.ErrorCode != 0 || len(g.Topics) == 0 {
		return -1
	}
	return g.Topics[0].Partitions[0].Offset
}

func produceAs(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	for range n {
		if err := produceOne(t, cl, topic); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
}

// waitCoordinator asks for the coordinator of key (type 0 group, 1
// transaction) until there is one: the first ask creates its internal
// topic.
func waitCoordinator(t *testing.T, admin *kgo.Client, keyType int8, key string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType, req.CoordinatorKeys = keyType, []string{key}
		c := send[*kmsg.FindCoordinatorResponse](t, admin, req).Coordinators[0].ErrorCode
		if c == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no coordinator for %s: %v", key, kerr.ErrorForCode(c))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func errCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

// noError stands for code 0 in is.
var noError = &kerr.Error{Message: "NONE", Code: 0}

// not is true for any code but the given ones: the request got past
// authorization (and may fail for other reasons, such as an unknown
// producer).
func not(codes ...*kerr.Error) func(int16) bool {
	return func(c int16) bool { return !is(codes...)(c) }
}

func is(codes ...*kerr.Error) func(int16) bool {
	return func(c int16) bool {
		return slices.ContainsFunc(codes, func(e *kerr.Error) bool { return e.Code == c })
	}
}

func matrix() []matrixCase {
	withTopic := func(t *testing.T, admin *kgo.Client, n names) { createTopic(t, admin, n.topic) }
	withRecords := func(t *testing.T, admin *kgo.Client, n names) {
		createTopic(t, admin, n.topic)
		produceAs(t, admin, n.topic, 2)
	}
	withGroup := func(t *testing.T, admin *kgo.Client, n names) {
		createTopic(t, admin, n.topic)
		if c := commitOffset(t, admin, admin, n.group, n.topic); c != 0 {
			t.Fatalf("admin commit: %v", kerr.ErrorForCode(c))
		}
	}
	return []matrixCase{
		{
			name:   "Metadata/named topic",
			setup:  withTopic,
			grant:  func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDescribe)} },
			run:    func(t *testing.T, cl *kgo.Client, n names) int16 { return metadataCode(t, cl, n.topic) },
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			// A topic that does not exist answers the same as one the
			// principal may not see: existence stays hidden.
			name:      "Metadata/missing topic",
			grant:     func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDescribe)} },
			run:       func(t *testing.T, cl *kgo.Client, n names) int16 { return metadataCode(t, cl, n.topic) },
			denied:    kerr.TopicAuthorizationFailed,
			allowedOK: is(kerr.UnknownTopicOrPartition),
		},
		{
			name:  "Metadata/all topics",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpRead)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				resp := send[*kmsg.MetadataResponse](t, cl, kmsg.NewPtrMetadataRequest())
				for _, mt := range resp.Topics {
					if mt.Topic != nil && *mt.Topic == n.topic {
						return 0
					}
				}
				return kerr.TopicAuthorizationFailed.Code // left out
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "Produce",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpWrite)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				return errCode(produceOne(t, cl, n.topic))
			},
			denied: kerr.TopicAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if off := endOffset(t, admin, n.topic); off != 0 {
					t.Errorf("the log grew to %d", off)
				}
			},
		},
		{
			name:  "Fetch",
			setup: withRecords,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpRead)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrFetchRequest()
				req.ReplicaID, req.MaxBytes, req.MaxWaitMillis = -1, 1<<20, 0
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic = n.topic
				rt.TopicID = topicID(t, n.admin, n.topic)
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 0, 1<<20, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp, err := cl.Broker(1).Request(ctxT(t), req)
				if err != nil {
					t.Fatal(err)
				}
				p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
				if p.ErrorCode != 0 && len(p.RecordBatches) > 0 {
					t.Errorf("denied fetch returned %d bytes of records", len(p.RecordBatches))
				}
				if p.ErrorCode == 0 && len(p.RecordBatches) == 0 {
					t.Errorf("allowed fetch returned no records")
				}
				return p.ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "ListOffsets",
			setup: withRecords,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrListOffsetsRequest()
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = n.topic
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Timestamp = -1
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				p := send[*kmsg.ListOffsetsResponse](t, cl, req).Topics[0].Partitions[0]
				if p.ErrorCode != 0 && p.Offset != -1 {
					t.Errorf("denied ListOffsets revealed offset %d", p.Offset)
				}
				return p.ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "OffsetForLeaderEpoch",
			setup: withRecords,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrOffsetForLeaderEpochRequest()
				req.ReplicaID = -1
				rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
				rt.Topic = n.topic
				rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
				rp.CurrentLeaderEpoch, rp.LeaderEpoch = -1, 0
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				return send[*kmsg.OffsetForLeaderEpochResponse](t, cl, req).Topics[0].Partitions[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "OffsetCommit/group",
			setup: withTopic,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpRead), allow(rTopic, n.topic, n.principal, acl.OpRead)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				return commitOffset(t, cl, n.admin, n.group, n.topic)
			},
			denied: kerr.GroupAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if off := committedOffset(t, admin, n.group, n.topic); off != -1 {
					t.Errorf("offset %d committed", off)
				}
			},
		},
		{
			name: "OffsetCommit/topic",
			setup: func(t *testing.T, admin *kgo.Client, n names) {
				withTopic(t, admin, n)
				createACLs(t, admin, allow(rGroup, n.group, n.principal, acl.OpRead))
			},
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpRead)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				return commitOffset(t, cl, n.admin, n.group, n.topic)
			},
			denied: kerr.TopicAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if off := committedOffset(t, admin, n.group, n.topic); off != -1 {
					t.Errorf("offset %d committed", off)
				}
			},
		},
		{
			name:  "OffsetFetch",
			setup: withGroup,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpDescribe), allow(rTopic, n.topic, n.principal, acl.OpDescribe)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrOffsetFetchRequest()
				rg := kmsg.NewOffsetFetchRequestGroup()
				rg.Group = n.group // all topics
				req.Groups = append(req.Groups, rg)
				resp, err := cl.Broker(1).Request(ctxT(t), req)
				if err != nil {
					t.Fatal(err)
				}
				g := resp.(*kmsg.OffsetFetchResponse).Groups[0]
				if g.ErrorCode == 0 && (len(g.Topics) != 1 || g.Topics[0].Partitions[0].Offset != 5) {
					t.Errorf("allowed OffsetFetch: %+v", g.Topics)
				}
				return g.ErrorCode
			},
			denied: kerr.GroupAuthorizationFailed,
		},
		{
			name: "OffsetFetch/topic hidden",
			setup: func(t *testing.T, admin *kgo.Client, n names) {
				withGroup(t, admin, n)
				createACLs(t, admin, allow(rGroup, n.group, n.principal, acl.OpDescribe))
			},
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrOffsetFetchRequest()
				rg := kmsg.NewOffsetFetchRequestGroup()
				rg.Group = n.group
				rt := kmsg.NewOffsetFetchRequestGroupTopic()
				rt.Topic, rt.TopicID, rt.Partitions = n.topic, topicID(t, n.admin, n.topic), []int32{0}
				rg.Topics = append(rg.Topics, rt)
				req.Groups = append(req.Groups, rg)
				resp, err := cl.Broker(1).Request(ctxT(t), req)
				if err != nil {
					t.Fatal(err)
				}
				p := resp.(*kmsg.OffsetFetchResponse).Groups[0].Topics[0].Partitions[0]
				if p.ErrorCode != 0 && p.Offset != -1 {
					t.Errorf("denied partition revealed offset %d", p.Offset)
				}
				return p.ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "FindCoordinator/group",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.CoordinatorKeys = []string{n.group}
				return send[*kmsg.FindCoordinatorResponse](t, cl, req).Coordinators[0].ErrorCode
			},
			denied:    kerr.GroupAuthorizationFailed,
			allowedOK: is(noError, kerr.CoordinatorNotAvailable),
		},
		{
			name:  "FindCoordinator/transaction",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTxn, n.txnID, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.CoordinatorType, req.CoordinatorKeys = 1, []string{n.txnID}
				return send[*kmsg.FindCoordinatorResponse](t, cl, req).Coordinators[0].ErrorCode
			},
			denied:    kerr.TransactionalIDAuthorizationFailed,
			allowedOK: is(noError, kerr.CoordinatorNotAvailable),
		},
		{
			name:  "JoinGroup",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpRead)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrJoinGroupRequest()
				req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = n.group, "consumer", 10000, 10000
				p := kmsg.NewJoinGroupRequestProtocol()
				p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0}
				req.Protocols = append(req.Protocols, p)
				return send[*kmsg.JoinGroupResponse](t, cl, req).ErrorCode
			},
			denied:    kerr.GroupAuthorizationFailed,
			allowedOK: is(kerr.MemberIDRequired),
		},
		{
			name:  "DescribeGroups",
			setup: withGroup,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDescribeGroupsRequest()
				req.Groups, req.IncludeAuthorizedOperations = []string{n.group}, true
				g := send[*kmsg.DescribeGroupsResponse](t, cl, req).Groups[0]
				if g.ErrorCode == 0 && g.AuthorizedOperations != 1<<acl.OpDescribe {
					t.Errorf("authorized operations %b, want DESCRIBE only", g.AuthorizedOperations)
				}
				return g.ErrorCode
			},
			denied: kerr.GroupAuthorizationFailed,
		},
		{
			name:  "ListGroups",
			setup: withGroup,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				for _, g := range send[*kmsg.ListGroupsResponse](t, cl, kmsg.NewPtrListGroupsRequest()).Groups {
					if g.Group == n.group {
						return 0
					}
				}
				return kerr.GroupAuthorizationFailed.Code // left out
			},
			denied: kerr.GroupAuthorizationFailed,
		},
		{
			name:  "DeleteGroups",
			setup: withGroup,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpDelete)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDeleteGroupsRequest()
				req.Groups = []string{n.group}
				return send[*kmsg.DeleteGroupsResponse](t, cl, req).Groups[0].ErrorCode
			},
			denied: kerr.GroupAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if off := committedOffset(t, admin, n.group, n.topic); off != 5 {
					t.Errorf("the group's offset is %d", off)
				}
			},
		},
		{
			name:  "OffsetDelete",
			setup: withGroup,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpDelete), allow(rTopic, n.topic, n.principal, acl.OpRead)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrOffsetDeleteRequest()
				req.Group = n.group
				rt := kmsg.NewOffsetDeleteRequestTopic()
				rt.Topic = n.topic
				rt.Partitions = append(rt.Partitions, kmsg.NewOffsetDeleteRequestTopicPartition())
				req.Topics = append(req.Topics, rt)
				resp := send[*kmsg.OffsetDeleteResponse](t, cl, req)
				if resp.ErrorCode != 0 {
					return resp.ErrorCode
				}
				return resp.Topics[0].Partitions[0].ErrorCode
			},
			denied: kerr.GroupAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if off := committedOffset(t, admin, n.group, n.topic); off != 5 {
					t.Errorf("the group's offset is %d", off)
				}
			},
		},
		{
			name:  "CreateTopics",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpCreate)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrCreateTopicsRequest()
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n.topic, 1, 1
				req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
				r := send[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0]
				if r.ErrorCode == 0 && r.ConfigErrorCode != kerr.TopicAuthorizationFailed.Code {
					t.Errorf("configs shown without DESCRIBE_CONFIGS: %d", r.ConfigErrorCode)
				}
				return r.ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if c := metadataCode(t, admin, n.topic); c != kerr.UnknownTopicOrPartition.Code {
					t.Errorf("topic state %v", kerr.ErrorForCode(c))
				}
			},
		},
		{
			name:  "CreateTopics/cluster CREATE",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpCreate)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrCreateTopicsRequest()
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n.topic, 1, 1
				req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
				return send[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "DeleteTopics",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDelete)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDeleteTopicsRequest()
				rt := kmsg.NewDeleteTopicsRequestTopic()
				rt.Topic = kmsg.StringPtr(n.topic)
				req.Topics, req.TopicNames, req.TimeoutMillis = append(req.Topics, rt), []string{n.topic}, 10000
				return send[*kmsg.DeleteTopicsResponse](t, cl, req).Topics[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if c := metadataCode(t, admin, n.topic); c != 0 {
					t.Errorf("topic state %v", kerr.ErrorForCode(c))
				}
			},
		},
		{
			name:  "CreatePartitions",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpAlter)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrCreatePartitionsRequest()
				rt := kmsg.NewCreatePartitionsRequestTopic()
				rt.Topic, rt.Count = n.topic, 2
				req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
				return send[*kmsg.CreatePartitionsResponse](t, cl, req).Topics[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "DeleteRecords",
			setup: withRecords,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDelete)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDeleteRecordsRequest()
				rt := kmsg.NewDeleteRecordsRequestTopic()
				rt.Topic = n.topic
				rp := kmsg.NewDeleteRecordsRequestTopicPartition()
				rp.Offset = 1
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
				p := send[*kmsg.DeleteRecordsResponse](t, cl, req).Topics[0].Partitions[0]
				if p.ErrorCode == 0 && p.LowWatermark != 1 {
					t.Errorf("low watermark %d", p.LowWatermark)
				}
				return p.ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "DescribeConfigs/topic",
			setup: withTopic,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpAlterConfigs)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDescribeConfigsRequest()
				rr := kmsg.NewDescribeConfigsRequestResource()
				rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, n.topic
				req.Resources = append(req.Resources, rr)
				r := send[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0]
				if r.ErrorCode != 0 && len(r.Configs) > 0 {
					t.Error("denied DescribeConfigs listed configs")
				}
				return r.ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "DescribeConfigs/broker",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpDescribeConfigs)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDescribeConfigsRequest()
				rr := kmsg.NewDescribeConfigsRequestResource()
				rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
				req.Resources = append(req.Resources, rr)
				return send[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0].ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "IncrementalAlterConfigs/topic",
			setup: withTopic,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpAlterConfigs)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrIncrementalAlterConfigsRequest()
				rr := kmsg.NewIncrementalAlterConfigsRequestResource()
				rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, n.topic
				c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				c.Name, c.Value = "retention.ms", kmsg.StringPtr("1234567")
				rr.Configs = append(rr.Configs, c)
				req.Resources = append(req.Resources, rr)
				return send[*kmsg.IncrementalAlterConfigsResponse](t, cl, req).Resources[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				req := kmsg.NewPtrDescribeConfigsRequest()
				rr := kmsg.NewDescribeConfigsRequestResource()
				rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, n.topic, []string{"retention.ms"}
				req.Resources = append(req.Resources, rr)
				for _, c := range send[*kmsg.DescribeConfigsResponse](t, admin, req).Resources[0].Configs {
					if c.Value != nil && *c.Value == "1234567" {
						t.Error("retention.ms was altered")
					}
				}
			},
		},
		{
			name:  "AlterConfigs/topic",
			setup: withTopic,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpAlterConfigs)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrAlterConfigsRequest()
				rr := kmsg.NewAlterConfigsRequestResource()
				rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, n.topic
				c := kmsg.NewAlterConfigsRequestResourceConfig()
				c.Name, c.Value = "retention.ms", kmsg.StringPtr("7654321")
				rr.Configs = append(rr.Configs, c)
				req.Resources = append(req.Resources, rr)
				return send[*kmsg.AlterConfigsResponse](t, cl, req).Resources[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "DescribeTopicPartitions",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDescribeTopicPartitionsRequest()
				rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
				rt.Topic = n.topic
				req.Topics, req.ResponsePartitionLimit = append(req.Topics, rt), 100
				r := send[*kmsg.DescribeTopicPartitionsResponse](t, cl, req).Topics[0]
				if r.ErrorCode != 0 && (len(r.Partitions) > 0 || r.TopicID != [16]byte{}) {
					t.Error("denied DescribeTopicPartitions revealed the topic")
				}
				if r.ErrorCode == 0 && r.AuthorizedOperations != 1<<acl.OpDescribe {
					t.Errorf("authorized operations %b, want DESCRIBE", r.AuthorizedOperations)
				}
				// "All topics" leaves out those the principal may not
				// DESCRIBE.
				all := send[*kmsg.DescribeTopicPartitionsResponse](t, cl, kmsg.NewPtrDescribeTopicPartitionsRequest())
				listed := slices.ContainsFunc(all.Topics, func(x kmsg.DescribeTopicPartitionsResponseTopic) bool { return x.Topic != nil && *x.Topic == n.topic })
				if listed != (r.ErrorCode == 0) {
					t.Errorf("all topics lists the topic: %v, with error %d", listed, r.ErrorCode)
				}
				return r.ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "IncrementalAlterConfigs/broker",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpAlterConfigs)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrIncrementalAlterConfigsRequest()
				rr := kmsg.NewIncrementalAlterConfigsRequestResource()
				rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
				c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				c.Name, c.Value = "log.cleaner.threads", kmsg.StringPtr("1")
				rr.Configs = append(rr.Configs, c)
				req.Resources = append(req.Resources, rr)
				return send[*kmsg.IncrementalAlterConfigsResponse](t, cl, req).Resources[0].ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "InitProducerId/transactional",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTxn, n.txnID, n.principal, acl.OpWrite)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrInitProducerIDRequest()
				req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(n.txnID), 60000
				return send[*kmsg.InitProducerIDResponse](t, cl, req).ErrorCode
			},
			denied: kerr.TransactionalIDAuthorizationFailed,
		},
		{
			name:  "InitProducerId/idempotent",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpIdempotentWrite)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				return send[*kmsg.InitProducerIDResponse](t, cl, kmsg.NewPtrInitProducerIDRequest()).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			// KIP-679: WRITE on any topic is enough for idempotence.
			name:  "InitProducerId/idempotent by topic WRITE",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpWrite)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				return send[*kmsg.InitProducerIDResponse](t, cl, kmsg.NewPtrInitProducerIDRequest()).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			// The client form (v0-3) of AddPartitionsToTxn.
			name:  "AddPartitionsToTxn",
			setup: withTopic,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rTxn, n.txnID, n.principal, acl.OpWrite), allow(rTopic, n.topic, n.principal, acl.OpWrite)}
			},
			run: func(t *testing.T, _ *kgo.Client, n names) int16 {
				v := kversion.Stable()
				v.SetMaxKeyVersion(24, 3)
				cl := newClient(t, []string{n.addr}, n.user, kgo.MaxVersions(v))
				req := kmsg.NewPtrAddPartitionsToTxnRequest()
				req.TransactionalID, req.ProducerID, req.ProducerEpoch = n.txnID, 1, 0
				rt := kmsg.NewAddPartitionsToTxnRequestTopic()
				rt.Topic, rt.Partitions = n.topic, []int32{0}
				req.Topics = append(req.Topics, rt)
				return send[*kmsg.AddPartitionsToTxnResponse](t, cl, req).Topics[0].Partitions[0].ErrorCode
			},
			denied:    kerr.TransactionalIDAuthorizationFailed,
			allowedOK: not(kerr.TransactionalIDAuthorizationFailed, kerr.TopicAuthorizationFailed),
		},
		{
			name: "AddPartitionsToTxn/topic",
			setup: func(t *testing.T, admin *kgo.Client, n names) {
				withTopic(t, admin, n)
				createACLs(t, admin, allow(rTxn, n.txnID, n.principal, acl.OpWrite))
			},
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpWrite)} },
			run: func(t *testing.T, _ *kgo.Client, n names) int16 {
				v := kversion.Stable()
				v.SetMaxKeyVersion(24, 3)
				cl := newClient(t, []string{n.addr}, n.user, kgo.MaxVersions(v))
				req := kmsg.NewPtrAddPartitionsToTxnRequest()
				req.TransactionalID, req.ProducerID, req.ProducerEpoch = n.txnID, 1, 0
				rt := kmsg.NewAddPartitionsToTxnRequestTopic()
				rt.Topic, rt.Partitions = n.topic, []int32{0}
				req.Topics = append(req.Topics, rt)
				return send[*kmsg.AddPartitionsToTxnResponse](t, cl, req).Topics[0].Partitions[0].ErrorCode
			},
			denied:    kerr.TopicAuthorizationFailed,
			allowedOK: not(kerr.TransactionalIDAuthorizationFailed, kerr.TopicAuthorizationFailed),
		},
		{
			// The brokers' batched form (v4+, KIP-890).
			name:  "AddPartitionsToTxn/brokers",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpClusterAction)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrAddPartitionsToTxnRequest()
				tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
				tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly = n.txnID, 1, 0, true
				rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
				rt.Topic, rt.Partitions = n.topic, []int32{0}
				tr.Topics = append(tr.Topics, rt)
				req.Transactions = append(req.Transactions, tr)
				return send[*kmsg.AddPartitionsToTxnResponse](t, cl, req).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name: "AddOffsetsToTxn",
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rTxn, n.txnID, n.principal, acl.OpWrite), allow(rGroup, n.group, n.principal, acl.OpRead)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrAddOffsetsToTxnRequest()
				req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = n.txnID, 1, 0, n.group
				return send[*kmsg.AddOffsetsToTxnResponse](t, cl, req).ErrorCode
			},
			denied:    kerr.TransactionalIDAuthorizationFailed,
			allowedOK: not(kerr.TransactionalIDAuthorizationFailed, kerr.GroupAuthorizationFailed),
		},
		{
			name: "AddOffsetsToTxn/group",
			setup: func(t *testing.T, admin *kgo.Client, n names) {
				createACLs(t, admin, allow(rTxn, n.txnID, n.principal, acl.OpWrite))
			},
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpRead)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrAddOffsetsToTxnRequest()
				req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = n.txnID, 1, 0, n.group
				return send[*kmsg.AddOffsetsToTxnResponse](t, cl, req).ErrorCode
			},
			denied:    kerr.GroupAuthorizationFailed,
			allowedOK: not(kerr.TransactionalIDAuthorizationFailed, kerr.GroupAuthorizationFailed),
		},
		{
			name:  "EndTxn",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTxn, n.txnID, n.principal, acl.OpWrite)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrEndTxnRequest()
				req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = n.txnID, 1, 0, true
				return send[*kmsg.EndTxnResponse](t, cl, req).ErrorCode
			},
			denied:    kerr.TransactionalIDAuthorizationFailed,
			allowedOK: not(kerr.TransactionalIDAuthorizationFailed),
		},
		{
			name:  "TxnOffsetCommit",
			setup: withTopic,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rTxn, n.txnID, n.principal, acl.OpWrite), allow(rGroup, n.group, n.principal, acl.OpRead),
					allow(rTopic, n.topic, n.principal, acl.OpRead)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrTxnOffsetCommitRequest()
				req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = n.txnID, n.group, 1, 0, -1
				rt := kmsg.NewTxnOffsetCommitRequestTopic()
				rt.Topic = n.topic
				rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				rp.Offset = 3
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				return send[*kmsg.TxnOffsetCommitResponse](t, cl, req).Topics[0].Partitions[0].ErrorCode
			},
			denied:    kerr.TransactionalIDAuthorizationFailed,
			allowedOK: not(kerr.TransactionalIDAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.TopicAuthorizationFailed),
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if off := committedOffset(t, admin, n.group, n.topic); off != -1 {
					t.Errorf("offset %d committed", off)
				}
			},
		},
		{
			name:  "WriteTxnMarkers",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpClusterAction)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrWriteTxnMarkersRequest()
				m := kmsg.NewWriteTxnMarkersRequestMarker()
				m.ProducerID, m.ProducerEpoch, m.Committed = 1, 0, false
				mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
				mt.Topic, mt.Partitions = n.topic, []int32{0}
				m.Topics = append(m.Topics, mt)
				req.Markers = append(req.Markers, m)
				return send[*kmsg.WriteTxnMarkersResponse](t, cl, req).Markers[0].Topics[0].Partitions[0].ErrorCode
			},
			denied:    kerr.ClusterAuthorizationFailed,
			allowedOK: not(kerr.ClusterAuthorizationFailed),
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				if off := endOffset(t, admin, n.topic); off != 0 {
					t.Errorf("a marker was written: log end %d", off)
				}
			},
		},
		{
			name:  "DescribeProducers",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTopic, n.topic, n.principal, acl.OpRead)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDescribeProducersRequest()
				rt := kmsg.NewDescribeProducersRequestTopic()
				rt.Topic, rt.Partitions = n.topic, []int32{0}
				req.Topics = append(req.Topics, rt)
				return send[*kmsg.DescribeProducersResponse](t, cl, req).Topics[0].Partitions[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name:  "DescribeTransactions",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rTxn, n.txnID, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDescribeTransactionsRequest()
				req.TransactionalIDs = []string{n.txnID}
				return send[*kmsg.DescribeTransactionsResponse](t, cl, req).TransactionStates[0].ErrorCode
			},
			denied:    kerr.TransactionalIDAuthorizationFailed,
			allowedOK: is(kerr.TransactionalIDNotFound, kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress),
		},
		{
			// DescribeCluster is open to all (AuthHelper.computeDescribeClusterResponse);
			// the cluster's authorized operations need DESCRIBE on it,
			// else they are 0 (reported here as CLUSTER_AUTHORIZATION_FAILED).
			name: "DescribeCluster/authorized operations",
			grant: func(n names) []acl.Binding {
				return []acl.Binding{clusterACL(n.principal, acl.OpDescribe), clusterACL(n.principal, acl.OpIdempotentWrite)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrDescribeClusterRequest()
				req.IncludeClusterAuthorizedOperations = true
				resp := send[*kmsg.DescribeClusterResponse](t, cl, req)
				switch {
				case resp.ErrorCode != 0:
					return resp.ErrorCode
				case resp.ClusterAuthorizedOperations == 0:
					return kerr.ClusterAuthorizationFailed.Code
				case resp.ClusterAuthorizedOperations != 1<<acl.OpDescribe|1<<acl.OpIdempotentWrite:
					t.Errorf("cluster authorized operations %b, want DESCRIBE and IDEMPOTENT_WRITE", resp.ClusterAuthorizedOperations)
				}
				return 0
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "DescribeAcls",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				got, code := describeACLs(t, cl)
				if code != 0 && len(got) > 0 {
					t.Error("denied DescribeAcls listed ACLs")
				}
				return code
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "CreateAcls",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpAlter)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrCreateACLsRequest()
				c := kmsg.NewCreateACLsRequestCreation()
				c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, n.topic, kmsg.ACLResourcePatternTypeLiteral
				c.Principal, c.Host, c.Operation, c.PermissionType = n.principal, "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
				req.Creations = append(req.Creations, c)
				return send[*kmsg.CreateACLsResponse](t, cl, req).Results[0].ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
			unchanged: func(t *testing.T, admin *kgo.Client, n names) {
				got, _ := describeACLs(t, admin)
				for _, b := range got {
					if b.ResourceName == n.topic {
						t.Errorf("ACL created: %v", b)
					}
				}
			},
		},
		{
			name:  "DescribeLogDirs",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				resp := send[*kmsg.DescribeLogDirsResponse](t, cl, kmsg.NewPtrDescribeLogDirsRequest())
				if resp.ErrorCode != 0 && len(resp.Dirs) > 0 {
					t.Error("denied DescribeLogDirs listed directories")
				}
				return resp.ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "ListPartitionReassignments",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				return send[*kmsg.ListPartitionReassignmentsResponse](t, cl, kmsg.NewPtrListPartitionReassignmentsRequest()).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "ElectLeaders",
			setup: withTopic,
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpAlter)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrElectLeadersRequest()
				rt := kmsg.NewElectLeadersRequestTopic()
				rt.Topic, rt.Partitions = n.topic, []int32{0}
				req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
				return send[*kmsg.ElectLeadersResponse](t, cl, req).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "DescribeUserScramCredentials",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				return send[*kmsg.DescribeUserSCRAMCredentialsResponse](t, cl, kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name:  "AlterUserScramCredentials",
			grant: func(n names) []acl.Binding { return []acl.Binding{clusterACL(n.principal, acl.OpAlter)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
				d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
				d.Name, d.Mechanism = n.user, 1
				req.Deletions = append(req.Deletions, d)
				return send[*kmsg.AlterUserSCRAMCredentialsResponse](t, cl, req).Results[0].ErrorCode
			},
			denied:    kerr.ClusterAuthorizationFailed,
			allowedOK: is(kerr.ResourceNotFound),
		},
		{
			name:  "ConsumerGroupHeartbeat",
			setup: withTopic,
			grant: func(n names) []acl.Binding {
				return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpRead), allow(rTopic, n.topic, n.principal, acl.OpDescribe)}
			},
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
				req.Group, req.MemberID, req.MemberEpoch, req.RebalanceTimeoutMillis = n.group, "m-"+n.user+"-0000000000", 0, 10000
				req.SubscribedTopicNames = []string{n.topic}
				return send[*kmsg.ConsumerGroupHeartbeatResponse](t, cl, req).ErrorCode
			},
			denied: kerr.GroupAuthorizationFailed,
			allowedOK: func(c int16) bool {
				return c != kerr.GroupAuthorizationFailed.Code && c != kerr.TopicAuthorizationFailed.Code
			},
		},
		{
			name:  "ConsumerGroupDescribe",
			grant: func(n names) []acl.Binding { return []acl.Binding{allow(rGroup, n.group, n.principal, acl.OpDescribe)} },
			run: func(t *testing.T, cl *kgo.Client, n names) int16 {
				req := kmsg.NewPtrConsumerGroupDescribeRequest()
				req.Groups = []string{n.group}
				return send[*kmsg.ConsumerGroupDescribeResponse](t, cl, req).Groups[0].ErrorCode
			},
			denied:    kerr.GroupAuthorizationFailed,
			allowedOK: is(noError, kerr.GroupIDNotFound),
		},
	}
}

// TestACLMatrix runs every row of the matrix against one broker, each
// with its own principal and resources: denied without the ACLs, with
// nothing written or revealed; allowed once the super user admin grants
// them.
func TestACLMatrix(t *testing.T) {
	b := startBroker(t, nil)
	admin := b.client("admin")
	waitCoordinator(t, admin, 0, "g")
	waitCoordinator(t, admin, 1, "tx")
	for i, tc := range matrix() {
		t.Run(tc.name, func(t *testing.T) {
			n := names{admin: admin, addr: b.addr, user: fmt.Sprintf("u%d", i), topic: fmt.Sprintf("m%d-topic", i), group: fmt.Sprintf("m%d-group", i), txnID: fmt.Sprintf("m%d-txn", i)}
			n.principal = "User:" + n.user
			if tc.setup != nil {
				tc.setup(t, admin, n)
			}
			cl := b.client(n.user, kgo.DisableIdempotentWrite(), kgo.RecordRetries(1), kgo.RequestRetries(1))
			if got := tc.run(t, cl, n); got != tc.denied.Code {
				t.Fatalf("without the ACLs: %v, want %v", kerr.ErrorForCode(got), tc.denied)
			}
			if tc.unchanged != nil {
				tc.unchanged(t, admin, n)
			}
			createACLs(t, admin, tc.grant(n)...)
			ok := tc.allowedOK
			if ok == nil {
				ok = is(noError)
			}
			// A new client: the old one may have cached the refusal.
			cl = b.client(n.user, kgo.DisableIdempotentWrite(), kgo.RecordRetries(3))
			if got := tc.run(t, cl, n); !ok(got) {
				t.Fatalf("with the ACLs: %v", kerr.ErrorForCode(got))
			}
		})
	}
}

// The README's "done when": a user can produce to one topic and not
// another, with an ordinary (idempotent) producer.
func TestProduceToOneTopicNotAnother(t *testing.T) {
	b := startBroker(t, nil)
	admin := b.client("admin")
	createTopic(t, admin, "allowed")
	createTopic(t, admin, "other")
	createACLs(t, admin, allow(rTopic, "allowed", "User:alice", acl.OpWrite))
	alice := b.client("alice", kgo.RecordRetries(2))
	if err := produceOne(t, alice, "allowed"); err != nil {
		t.Fatalf("produce to allowed: %v", err)
	}
	if err := produceOne(t, alice, "other"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to other: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if off := endOffset(t, admin, "allowed"); off != 1 {
		t.Errorf("allowed has %d records, want 1", off)
	}
	if off := endOffset(t, admin, "other"); off != 0 {
		t.Errorf("other has %d records, want 0", off)
	}
	// Bob has no ACL at all: not even idempotence.
	bob := b.client("bob", kgo.RecordRetries(2))
	if err := produceOne(t, bob, "allowed"); err == nil {
		t.Error("bob produced without an ACL")
	}
}

// A super user may do everything, with no ACL; an ACL that denies the
// super user changes nothing.
func TestSuperUser(t *testing.T) {
	b := startBroker(t, map[string]string{"super.users": "User:admin;User:alice"})
	admin := b.client("admin")
	createTopic(t, admin, "t")
	createACLs(t, admin, binding(rTopic, "t", acl.PatternLiteral, "User:alice", acl.OpAll, acl.Deny))
	alice := b.client("alice")
	if err := produceOne(t, alice, "t"); err != nil {
		t.Fatalf("super user alice: %v", err)
	}
	createTopic(t, alice, "t2")
	if _, code := describeACLs(t, alice); code != 0 {
		t.Fatalf("super user DescribeAcls: %v", kerr.ErrorForCode(code))
	}
}

// Deny wins: ALLOW ALL with DENY WRITE leaves reading and refuses
// writing; a DENY for User:* applies to everyone.
func TestDenyOverridesAllow(t *testing.T) {
	b := startBroker(t, nil)
	admin := b.client("admin")
	createTopic(t, admin, "t")
	produceAs(t, admin, "t", 1)
	createACLs(t, admin,
		allow(rTopic, "t", "User:alice", acl.OpAll),
		binding(rTopic, "t", acl.PatternLiteral, "User:alice", acl.OpWrite, acl.Deny),
		allow(rTopic, "t", "User:bob", acl.OpAll),
		binding(rTopic, "t", acl.PatternPrefixed, acl.WildcardPrincipal, acl.OpRead, acl.Deny),
		clusterACL("User:alice", acl.OpIdempotentWrite))
	alice := b.client("alice", kgo.RecordRetries(2))
	if err := produceOne(t, alice, "t"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// DESCRIBE is implied by ALL; READ is denied to everyone by the
	// prefixed wildcard-principal DENY.
	if c := metadataCode(t, alice, "t"); c != 0 {
		t.Fatalf("alice metadata: %v", kerr.ErrorForCode(c))
	}
	bob := b.client("bob", kgo.RecordRetries(2))
	if err := produceOne(t, bob, "t"); err != nil {
		t.Fatalf("bob produce: %v", err)
	}
	if off := endOffset(t, admin, "t"); off != 2 {
		t.Fatalf("log end %d, want 2", off)
	}
	bob.AddConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().AtStart()}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := bob.PollFetches(ctx)
	var got error
	fs.EachError(func(_ string, _ int32, err error) { got = err })
	if !errors.Is(got, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob fetch: %v (%d records), want TOPIC_AUTHORIZATION_FAILED", got, fs.NumRecords())
	}
}

// Prefixed ACLs (KIP-290) apply to every topic that starts with the
// prefix.
func TestPrefixedACLs(t *testing.T) {
	b := startBroker(t, nil)
	admin := b.client("admin")
	for _, topic := range []string{"orders-eu", "orders-us", "payments"} {
		createTopic(t, admin, topic)
	}
	createACLs(t, admin, binding(rTopic, "orders-", acl.PatternPrefixed, "User:alice", acl.OpWrite, acl.Allow))
	alice := b.client("alice", kgo.RecordRetries(2))
	for _, topic := range []string{"orders-eu", "orders-us"} {
		if err := produceOne(t, alice, topic); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	if err := produceOne(t, alice, "payments"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to payments: %v", err)
	}
	// A topic the prefix covers may be created by one with CREATE on it.
	createACLs(t, admin, binding(rTopic, "orders-", acl.PatternPrefixed, "User:alice", acl.OpCreate, acl.Allow))
	createTopic(t, alice, "orders-apac")
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "ordersx", 1, 1
	req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
	if c := send[*kmsg.CreateTopicsResponse](t, alice, req).Topics[0].ErrorCode; c != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("create ordersx: %v", kerr.ErrorForCode(c))
	}
}

// allow.everyone.if.no.acl.found=true opens the resources no ACL applies
// to, and only those.
func TestAllowEveryoneIfNoACLFound(t *testing.T) {
	b := startBroker(t, map[string]string{"allow.everyone.if.no.acl.found": "true"})
	admin := b.client("admin")
	createTopic(t, admin, "open")
	createTopic(t, admin, "guarded")
	createACLs(t, admin, allow(rTopic, "guarded", "User:bob", acl.OpWrite))
	alice := b.client("alice", kgo.RecordRetries(2))
	if err := produceOne(t, alice, "open"); err != nil {
		t.Fatalf("produce to open: %v", err)
	}
	if err := produceOne(t, alice, "guarded"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to guarded: %v", err)
	}
}

// Without an authorizer the ACL APIs answer SECURITY_DISABLED, as
// Kafka's.
func TestNoAuthorizer(t *testing.T) {
	b := startBroker(t, map[string]string{"authorizer.class.name": ""})
	alice := b.client("alice")
	if _, code := describeACLs(t, alice); code != kerr.SecurityDisabled.Code {
		t.Fatalf("DescribeAcls: %v", kerr.ErrorForCode(code))
	}
	createTopic(t, alice, "t")
	if err := produceOne(t, alice, "t"); err != nil {
		t.Fatalf("produce without an authorizer: %v", err)
	}
}

// Metadata's auto-creation needs CREATE on the cluster or the topic (and
// DESCRIBE to be told anything at all).
func TestMetadataAutoCreate(t *testing.T) {
	b := startBroker(t, map[string]string{"auto.create.topics.enable": "true"})
	admin := b.client("admin")
	createACLs(t, admin, binding(rTopic, "auto-", acl.PatternPrefixed, "User:alice", acl.OpDescribe, acl.Allow))
	alice := b.client("alice")
	ask := func(topic string) int16 {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics, req.AllowAutoTopicCreation = []kmsg.MetadataRequestTopic{topicReq(topic)}, true
		return send[*kmsg.MetadataResponse](t, alice, req).Topics[0].ErrorCode
	}
	if c := ask("auto-a"); c != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("auto-create without CREATE: %v", kerr.ErrorForCode(c))
	}
	if c := metadataCode(t, admin, "auto-a"); c != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("auto-a was created: %v", kerr.ErrorForCode(c))
	}
	createACLs(t, admin, binding(rTopic, "auto-", acl.PatternPrefixed, "User:alice", acl.OpCreate, acl.Allow))
	if c := ask("auto-a"); c != 0 && c != kerr.LeaderNotAvailable.Code {
		t.Fatalf("auto-create with CREATE: %v", kerr.ErrorForCode(c))
	}
	if c := metadataCode(t, admin, "auto-a"); c != 0 {
		t.Fatalf("auto-a: %v", kerr.ErrorForCode(c))
	}
}
