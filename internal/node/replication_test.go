package node

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// fakeSender answers AlterPartition with the function set, recording
// every request.
type fakeSender struct {
	mu     sync.Mutex
	reqs   []*kmsg.AlterPartitionRequest
	answer func(n int, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error)
}

func (f *fakeSender) SendAlterPartition(_ context.Context, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	n := len(f.reqs)
	f.mu.Unlock()
	return f.answer(n, req)
}

func (f *fakeSender) sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// accept answers every partition with its proposed ISR at the next
// partition epoch.
func accept(req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.TopidID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionResponseTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = p.Partition, p.LeaderEpoch, p.PartitionEpoch+1
			for _, m := range p.NewEpochISR {
				rp.ISR = append(rp.ISR, m.BrokerID)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

type applied struct {
	req *replica.AlterPartitionRequest
	res replica.AlterPartitionResult
}

// testManager returns a started manager whose answers go to the returned
// channel; a non-Kafka error is resubmitted as the replica layer does.
func testManager(t *testing.T) (*alterPartitionManager, chan applied) {
	out := make(chan applied, 16)
	var m *alterPartitionManager
	m = newAlterPartitionManager(1, slog.New(slog.DiscardHandler), func(req *replica.AlterPartitionRequest, res replica.AlterPartitionResult) {
		var ke *kerr.Error
		if res.Err != nil && !errors.As(res.Err, &ke) {
			m.submit(req) // what Partition.handleAlterPartitionResponse does
		}
		select {
		case out <- applied{req, res}:
		case <-m.ctx.Done(): // resubmitted answers keep coming until close
		}
	})
	m.brokerEpoch = func() int64 { return 42 }
	m.start()
	t.Cleanup(m.close)
	return m, out
}

func wait(t *testing.T, ch chan applied) applied {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no AlterPartition answer applied")
		return applied{}
	}
}

var topicA = metadata.TopicID{0xa}

func proposal(partition int32, isr ...int32) *replica.AlterPartitionRequest {
	r := &replica.AlterPartitionRequest{Topic: "a", TopicID: topicA, Partition: partition, LeaderID: 1, LeaderEpoch: 3, PartitionEpoch: 9}
	for _, id := range isr {
		r.NewISR = append(r.NewISR, replica.ISRMember{BrokerID: id, BrokerEpoch: int64(100 + id)})
	}
	return r
}

// TestAlterPartitionWaitsForASender: without a sender proposals wait;
// installing one sends them as one AlterPartition v3 request with the
// broker's id and epoch and each ISR member's broker epoch (KIP-903).
func TestAlterPartitionWaitsForASender(t *testing.T) {
	m, out := testManager(t)
	p0, p1 := proposal(0, 1, 2), proposal(1, 1)
	m.submit(p0)
	m.submit(p1)
	s := &fakeSender{answer: func(_ int, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
		return accept(req), nil
	}}
	m.setSender(s)
	got := map[int32]replica.AlterPartitionResult{}
	for range 2 {
		a := wait(t, out)
		got[a.req.Partition] = a.res
	}
	if got[0].Err != nil || got[0].PartitionEpoch != 10 || !slices.Equal(got[0].ISR, []int32{1, 2}) || got[1].Err != nil || !slices.Equal(got[1].ISR, []int32{1}) {
		t.Fatalf("applied %+v", got)
	}
	if s.sent() != 1 {
		t.Fatalf("%d requests, want one batch", s.sent())
	}
	req := s.reqs[0]
	if req.Version != 3 || req.BrokerID != 1 || req.BrokerEpoch != 42 || len(req.Topics) != 1 || req.Topics[0].TopicID != topicA || len(req.Topics[0].Partitions) != 2 {
		t.Fatalf("request %+v", req)
	}
	for _, p := range req.Topics[0].Partitions {
		if p.LeaderEpoch != 3 || p.PartitionEpoch != 9 || len(p.NewEpochISR) == 0 || p.NewEpochISR[0].BrokerEpoch != 101 {
			t.Fatalf("partition %+v", p)
		}
	}
}

// TestAlterPartitionErrors: a transport failure is answered to the
// replica layer, which resubmits, and sent again after a backoff;
// partition errors and partitions missing from the answer are passed on.
func TestAlterPartitionErrors(t *testing.T) {
	m, out := testManager(t)
	s := &fakeSender{answer: func(n int, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
		switch n {
		case 1:
			return nil, errors.New("connection refused")
		case 2:
			resp := accept(req)
			resp.Topics[0].Partitions[0].ErrorCode = kerr.InvalidUpdateVersion.Code
			return resp, nil
		default:
			resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
			return resp, nil // leaves the partition out
		}
	}}
	m.setSender(s)
	m.submit(proposal(0, 1))
	if a := wait(t, out); a.res.Err == nil || errors.As(a.res.Err, new(*kerr.Error)) {
		t.Fatalf("first answer %v, want the transport error", a.res.Err)
	}
	if a := wait(t, out); a.res.Err != kerr.InvalidUpdateVersion {
		t.Fatalf("second answer %v, want INVALID_UPDATE_VERSION", a.res.Err)
	}
	m.submit(proposal(0, 1))
	if a := wait(t, out); !errors.Is(a.res.Err, errNotAnswered) {
		t.Fatalf("third answer %v, want errNotAnswered", a.res.Err)
	}
}
