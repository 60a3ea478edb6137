package server

// DeleteTopics (key 20), versions 1-6 (Kafka 4.0 removed v0, KIP-896).
//
//	v1: throttle.   v2-v3: no change.   v4: flexible.
//	v5: error_message.   v6: topics by name or id (KIP-516).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 20, min: 1, max: 6, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDeleteTopics(r.(*kmsg.DeleteTopicsRequest)), nil
	}})
}

func (s *Server) handleDeleteTopics(req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	var del []controller.DeleteTopic
	if req.Version >= 6 {
		for _, t := range req.Topics {
			d := controller.DeleteTopic{ID: metadata.TopicID(t.TopicID)}
			if t.Topic != nil {
				d.Name = *t.Topic
			}
			del = append(del, d)
		}
	} else {
		for _, n := range req.TopicNames {
			del = append(del, controller.DeleteTopic{Name: n})
		}
	}
	if !s.cfg.DeleteTopicEnable {
		for _, d := range del {
			st := kmsg.NewDeleteTopicsResponseTopic()
			name := d.Name
			st.Topic, st.TopicID = &name, d.ID
			st.ErrorCode = kerr.TopicDeletionDisabled.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	for _, r := range s.deps.Controller.DeleteTopics(del) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		if r.Name != "" {
			name := r.Name
			st.Topic = &name
		}
		st.TopicID = r.ID
		st.ErrorCode = codeOf(r.Err)
		st.ErrorMessage = messageOf(r.Err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
