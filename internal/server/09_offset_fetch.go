package server

// OffsetFetch (key 9), versions 1-10 (Kafka 4.0 removed 0, KIP-896).
//
//	v2: null topics fetch every committed offset; top-level error.
//	v3: throttle.   v4: no change.   v5: committed_leader_epoch
//	(KIP-320).   v6: flexible.   v7: require_stable (KIP-447).
//	v8: several groups per request (KIP-709).
//	v9: member_id and member_epoch (KIP-848).
//	v10: topics by id (KIP-848).
//
// Offsets are fetched per group from its coordinator; a group or
// partition without a committed offset answers -1. Before v2 a group
// error is repeated on every partition (there is no top-level error).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 9, min: 1, max: 10, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleOffsetFetch(c, r.(*kmsg.OffsetFetchRequest)), nil
	}})
}

func (s *Server) handleOffsetFetch(c *conn, req *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	im := s.image()
	useIDs := req.Version >= 10

	if req.Version < 8 {
		fr := group.FetchRequest{Group: req.Group, MemberEpoch: -1, RequireStable: req.RequireStable}
		if req.Topics != nil || req.Version < 2 {
			fr.Topics = make([]group.FetchTopic, 0, len(req.Topics))
			for _, t := range req.Topics {
				fr.Topics = append(fr.Topics, group.FetchTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		r := s.fetchOffsets(c, []group.FetchRequest{fr})[0]
		if req.Version >= 2 {
			resp.ErrorCode = r.ErrorCode
			if r.ErrorCode != 0 {
				return resp
			}
		} else if r.ErrorCode != 0 {
			for _, t := range fr.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, r.ErrorCode
					rp.Metadata = new(string)
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		}
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				md := p.Metadata
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, &md, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}

	// v8+: several groups; v10 names topics by id.
	frs := make([]group.FetchRequest, len(req.Groups))
	// unknownIDs[g] holds the requested topics whose id is unknown.
	unknownIDs := make([][]kmsg.OffsetFetchRequestGroupTopic, len(req.Groups))
	for i, g := range req.Groups {
		fr := group.FetchRequest{Group: g.Group, MemberID: g.MemberID, MemberEpoch: g.MemberEpoch, RequireStable: req.RequireStable}
		if g.Topics != nil {
			fr.Topics = make([]group.FetchTopic, 0, len(g.Topics))
			for _, t := range g.Topics {
				name := t.Topic
				if useIDs {
					mt, ok := im.TopicByID(metadata.TopicID(t.TopicID))
					if !ok {
						unknownIDs[i] = append(unknownIDs[i], t)
						continue
					}
					name = mt.Name
				}
				fr.Topics = append(fr.Topics, group.FetchTopic{Topic: name, Partitions: t.Partitions})
			}
		}
		frs[i] = fr
	}
	results := s.fetchOffsets(c, frs)
	for i, r := range results {
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group, rg.ErrorCode = r.Group, r.ErrorCode
		if r.ErrorCode == 0 {
			for _, t := range r.Topics {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.Topic
				if useIDs {
					mt, ok := im.Topic(t.Topic)
					if !ok {
						continue // offsets of a deleted topic have no id
					}
					rt.Topic, rt.TopicID = "", mt.ID
				}
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					md := p.Metadata
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, &md, p.ErrorCode
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
			for _, t := range unknownIDs[i] {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.TopicID = t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, kerr.UnknownTopicID.Code
					rp.Metadata = new(string)
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func (s *Server) fetchOffsets(c *conn, frs []group.FetchRequest) []group.FetchResponse {
	if s.deps.Groups == nil {
		out := make([]group.FetchResponse, len(frs))
		for i, fr := range frs {
			out[i] = group.FetchResponse{Group: fr.Group, ErrorCode: kerr.CoordinatorNotAvailable.Code}
		}
		return out
	}
	if s.deps.Authorizer == nil {
		return s.deps.Groups.FetchOffsets(c.ctx, frs)
	}
	return s.fetchOffsetsAuthorized(c, frs)
}

// fetchOffsetsAuthorized is KafkaApis.handleOffsetFetchRequest's
// authorization: a group the principal may not DESCRIBE answers
// GROUP_AUTHORIZATION_FAILED; named topics it may not DESCRIBE answer
// TOPIC_AUTHORIZATION_FAILED per partition; "all topics" leaves them
// out.
func (s *Server) fetchOffsetsAuthorized(c *conn, frs []group.FetchRequest) []group.FetchResponse {
	mayDescribe := c.authorizedTopics(acl.OpDescribe)
	out := make([]group.FetchResponse, len(frs))
	var ask []group.FetchRequest
	var at []int
	denied := make([][]group.FetchTopic, len(frs))
	for i, fr := range frs {
		if !c.authorized(acl.OpDescribe, acl.ResourceGroup, fr.Group) {
			out[i] = group.FetchResponse{Group: fr.Group, ErrorCode: kerr.GroupAuthorizationFailed.Code}
			continue
		}
		if fr.Topics != nil {
			allowed := make([]group.FetchTopic, 0, len(fr.Topics))
			for _, t := range fr.Topics {
				if mayDescribe(t.Topic) {
					allowed = append(allowed, t)
				} else {
					denied[i] = append(denied[i], t)
				}
			}
			fr.Topics = allowed
		}
		ask = append(ask, fr)
		at = append(at, i)
	}
	if len(ask) > 0 {
		for k, r := range s.deps.Groups.FetchOffsets(c.ctx, ask) {
			i := at[k]
			if frs[i].Topics == nil {
				r.Topics = slices.DeleteFunc(r.Topics, func(t group.FetchTopicResult) bool { return !mayDescribe(t.Topic) })
			}
			if r.ErrorCode == 0 {
				for _, t := range denied[i] {
					tr := group.FetchTopicResult{Topic: t.Topic}
					for _, p := range t.Partitions {
						tr.Partitions = append(tr.Partitions, group.FetchPartitionResult{Partition: p, Offset: -1, LeaderEpoch: -1, ErrorCode: kerr.TopicAuthorizationFailed.Code})
					}
					r.Topics = append(r.Topics, tr)
				}
			}
			out[i] = r
		}
	}
	return out
}
