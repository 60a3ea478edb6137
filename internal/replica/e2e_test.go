package replica

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/protocol"
)

// pipeServer serves nodes' inter-broker requests over net.Pipe
// connections with Kafka's framing, one goroutine per connection.
type pipeServer struct {
	c  *cluster
	wg sync.WaitGroup
}

func (ps *pipeServer) dial(_ context.Context, id int32) (Conn, error) {
	n, ok := ps.c.nodes[id]
	if !ok {
		return nil, fmt.Errorf("no node %d", id)
	}
	client, server := net.Pipe()
	ps.wg.Add(1)
	go func() {
		defer ps.wg.Done()
		defer server.Close()
		ps.serveConn(server, n)
	}()
	return NewConn(client, "test-fetcher", 0), nil
}

func (ps *pipeServer) serveConn(nc net.Conn, n *node) {
	var buf []byte
	for {
		frame, err := protocol.ReadFrame(nc, buf, 100<<20)
		if err != nil {
			return
		}
		key, version := int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:]))
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		h, body, err := protocol.ParseHeader(frame, req.IsFlexible())
		if err != nil {
			return
		}
		if err := req.ReadFrom(body); err != nil {
			return
		}
		resp := serve(context.Background(), n.m, req, true)
		out := []byte{0, 0, 0, 0}
		out = binary.BigEndian.AppendUint32(out, uint32(h.CorrelationID))
		if req.IsFlexible() {
			out = append(out, 0) // no tagged fields
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := nc.Write(out); err != nil {
			return
		}
		buf = frame
	}
}

// TestReplicationWithFetcherGoroutines runs three nodes with their
// fetcher goroutines over framed connections and the real clock, and
// acks=all produces through them. Waits are bounded only to turn a hang
// into a failure.
func TestReplicationWithFetcherGoroutines(t *testing.T) {
	c := newCluster(t)
	c.realClock, c.manual, c.longPoll = true, false, true
	c.minISR = 2
	ps := &pipeServer{c: c}
	t.Cleanup(ps.wg.Wait) // after the nodes close (cleanups run last-in first-out)
	c.dialer = ps.dial
	c.start(1, 2, 3)
	replicas := []int32{1, 2, 3}
	c.apply(reg(1, 1, 0, replicas, replicas))
	leader := c.partition(1)
	pg := c.nodes[1].m.Purgatory()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var last int64
	for i := range 40 {
		res, err := c.produce(1, 1+i%3, fmt.Sprintf("v%d", i), -1)
		must(t, err)
		d := pg.Add([]PendingAck{{leader, res.LastOffset + 1}}, 20*time.Second)
		errs, err := d.Wait(ctx)
		if err != nil {
			t.Fatalf("produce %d: %v (HW %d, LEO %d)", i, err, leader.Log().HighWatermark(), leader.Log().LogEndOffset())
		}
		if errs[0] != nil {
			t.Fatalf("produce %d: %v", i, errs[0])
		}
		last = res.LastOffset
	}
	if got := leader.Log().HighWatermark(); got != last+1 {
		t.Fatalf("leader HW %d, want %d", got, last+1)
	}
	// Acked means every ISR follower fetched past it: their logs hold
	// everything, byte for byte.
	want := c.logBytes(1)
	for _, id := range []int32{2, 3} {
		if got := c.logBytes(id); !slices.Equal(got, want) {
			t.Fatalf("node %d log differs from the leader's (%d vs %d bytes)", id, len(got), len(want))
		}
	}

	// Leadership moves to node 2 (epoch 2); node 1 follows it, and
	// acks=all produces keep working through the new leader.
	c.apply(reg(2, 2, 1, replicas, replicas))
	newLeader := c.partition(2)
	res, err := c.produce(2, 2, "after", -1)
	must(t, err)
	d := c.nodes[2].m.Purgatory().Add([]PendingAck{{newLeader, res.LastOffset + 1}}, 20*time.Second)
	if errs, err := d.Wait(ctx); err != nil || errs[0] != nil {
		t.Fatalf("produce on the new leader: %v %v", errs, err)
	}
	want = c.logBytes(2)
	for _, id := range []int32{1, 3} {
		if got := c.logBytes(id); !slices.Equal(got, want) {
			t.Fatalf("node %d log differs from the new leader's", id)
		}
	}
}
