package server

// CreatePartitions (key 37), versions 0-3.
//
//	v1: no change.   v2: flexible.   v3: no change.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(handler{key: 37, min: 0, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleCreatePartitions(r.(*kmsg.CreatePartitionsRequest)), nil
	}})
}

func (s *Server) handleCreatePartitions(req *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	count := map[string]int{}
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	for _, t := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = t.Topic
		if count[t.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			msg := "Duplicate topic in request."
			st.ErrorMessage = &msg
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var assign [][]int32
		if t.Assignment != nil {
			for _, a := range t.Assignment {
				assign = append(assign, a.Replicas)
			}
		}
		err := s.deps.Controller.CreatePartitions(t.Topic, t.Count, assign, req.ValidateOnly)
		st.ErrorCode, st.ErrorMessage = codeOf(err), messageOf(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
