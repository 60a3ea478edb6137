package raft

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestHello(t *testing.T) {
	b := appendHello(nil, 3, 0, "cid")
	from, addr, err := readHello(bytes.NewReader(b), 0, "cid")
	if err != nil || from != 3 || addr != "" {
		t.Fatalf("from %d addr %q err %v", from, addr, err)
	}
	if _, _, err := readHello(bytes.NewReader(b), 0, ""); err != nil {
		t.Fatalf("unchecked cluster id: %v", err)
	}
	// A dynamic quorum's hello (version 2) announces the sender's
	// address, so a member that has not applied the change adding the
	// sender can answer it.
	b2 := appendHelloAddr(nil, 3, 0, "cid", "h3:9093")
	from, addr, err = readHello(bytes.NewReader(b2), 0, "cid")
	if err != nil || from != 3 || addr != "h3:9093" {
		t.Fatalf("v2: from %d addr %q err %v", from, addr, err)
	}
	if _, _, err := readHello(bytes.NewReader(b2[:len(b2)-1]), 0, "cid"); !errors.Is(err, errBadHello) {
		t.Fatalf("short v2 address: %v", err)
	}
	for name, c := range map[string]struct {
		b         []byte
		self      int32
		clusterID string
	}{
		"other cluster": {b, 0, "other"},
		"other node":    {b, 1, "cid"},
		"bad magic":     {append([]byte("KAFK"), b[4:]...), 0, "cid"},
		"bad version":   {append(append([]byte("GRFT"), 0, 9), b[6:]...), 0, "cid"},
		"short":         {b[:10], 0, "cid"},
		"short id":      {b[:len(b)-1], 0, "cid"},
		"kafka request": {binary.BigEndian.AppendUint32(nil, 42), 0, ""},
	} {
		if _, _, err := readHello(bytes.NewReader(c.b), c.self, c.clusterID); !errors.Is(err, errBadHello) {
			t.Errorf("%s: %v, want errBadHello", name, err)
		}
	}
}

func TestReadFrame(t *testing.T) {
	var b []byte
	for _, p := range [][]byte{[]byte("one"), nil, bytes.Repeat([]byte("x"), 300)} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	r := bytes.NewReader(b)
	for _, want := range []int{3, 0, 300} {
		got, err := readFrame(r, 1000)
		if err != nil || len(got) != want {
			t.Fatalf("frame of %d: len %d err %v", want, len(got), err)
		}
	}
	if _, err := readFrame(bytes.NewReader(b), 2); !errors.Is(err, errFrameLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	if _, err := readFrame(bytes.NewReader(b[:5]), 1000); err == nil {
		t.Fatal("short frame read")
	}
}

// FuzzReadFrame: the wire decoder (hello, frames, messages) never panics
// and never returns more than the limit.
func FuzzReadFrame(f *testing.F) {
	m, _ := proto.Marshal(&pb.Message{Type: pb.MsgApp.Enum(), To: proto.Uint64(1), From: proto.Uint64(2),
		Entries: []*pb.Entry{{Index: proto.Uint64(1), Term: proto.Uint64(1), Data: []byte("d")}}})
	good := appendHello(nil, 1, 0, "c")
	good = binary.BigEndian.AppendUint32(good, uint32(len(m)))
	good = append(good, m...)
	f.Add(good)
	f.Add(good[:20])
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		if _, _, err := readHello(r, 0, "c"); err != nil {
			return
		}
		for {
			b, err := readFrame(r, 1<<16)
			if err != nil {
				return
			}
			if len(b) > 1<<16 {
				t.Fatalf("frame of %d bytes over the limit", len(b))
			}
			_ = proto.Unmarshal(b, &pb.Message{})
		}
	})
}

// Sending to a peer that cannot be reached never blocks; raft hears that
// the peer is unreachable and that its snapshot failed.
func TestTransportReportsUnreachable(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	cfg := Config{
		NodeID:          0,
		Voters:          map[int32]string{0: "127.0.0.1:0", 1: deadAddr},
		Dir:             t.TempDir(),
		SendQueueLength: 4,
		Logger:          testLogger(t),
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr, err := newTransport(&cfg, func(*pb.Message) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()

	var msgs []*pb.Message
	for range 1000 {
		msgs = append(msgs, &pb.Message{Type: pb.MsgHeartbeat.Enum(), To: proto.Uint64(2), From: proto.Uint64(1)})
	}
	msgs = append(msgs, &pb.Message{Type: pb.MsgSnap.Enum(), To: proto.Uint64(2), From: proto.Uint64(1),
		Snapshot: &pb.Snapshot{Data: []byte("s"), Metadata: &pb.SnapshotMetadata{Index: proto.Uint64(5), Term: proto.Uint64(1)}}})
	msgs = append(msgs, &pb.Message{Type: pb.MsgHeartbeat.Enum(), To: proto.Uint64(99), From: proto.Uint64(1)})
	done := make(chan struct{})
	go func() {
		tr.send(msgs) // must return although nothing can be delivered
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("send blocked")
	}

	var unreachable []uint64
	var snaps []snapReport
	waitFor(t, "unreachable and snapshot failure reports", func() bool {
		select {
		case <-tr.notify:
		case <-time.After(10 * time.Millisecond):
		}
		u, s := tr.takeReports()
		unreachable = append(unreachable, u...)
		snaps = append(snaps, s...)
		return slices.Contains(unreachable, 2) && slices.Contains(snaps, snapReport{to: 2, kind: reportSnapFailure})
	})
	if slices.Contains(unreachable, 100) {
		t.Fatal("unknown member reported")
	}
}

// A delivered MsgSnap is reported finished; the receiver gets the message
// intact.
func TestTransportDeliversAndReportsSnapshot(t *testing.T) {
	tn := newTestNet()
	got := make(chan *pb.Message, 10)
	mk := func(id int32, deliver func(*pb.Message) bool) *transport {
		cfg := Config{
			NodeID:    id,
			Voters:    map[int32]string{0: logicalAddr(0), 1: logicalAddr(1)},
			Dir:       t.TempDir(),
			ClusterID: "c",
			Logger:    testLogger(t),
			Listen:    tn.listen,
			Dial:      tn.dialer(id),
		}
		cfg.EnsureDefaults()
		tr, err := newTransport(&cfg, deliver)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.close)
		return tr
	}
	a := mk(0, func(*pb.Message) bool { return true })
	mk(1, func(m *pb.Message) bool { got <- m; return true })

	snap := &pb.Message{Type: pb.MsgSnap.Enum(), To: proto.Uint64(2), From: proto.Uint64(1), Term: proto.Uint64(3),
		Snapshot: &pb.Snapshot{Data: bytes.Repeat([]byte("s"), 200<<10),
			Metadata: &pb.SnapshotMetadata{Index: proto.Uint64(9), Term: proto.Uint64(3), ConfState: &pb.ConfState{Voters: []uint64{1, 2}}}}}
	a.send([]*pb.Message{snap})
	select {
	case m := <-got:
		if !proto.Equal(m, snap) {
			t.Fatal("snapshot message changed in transit")
		}
	case <-time.After(waitTimeout):
		t.Fatal("snapshot not delivered")
	}
	waitFor(t, "snapshot finish report", func() bool {
		_, s := a.takeReports()
		return slices.Contains(s, snapReport{to: 2, kind: reportSnapFinish})
	})
}

// A connection with the wrong hello is closed without delivering.
func TestTransportRefusesStranger(t *testing.T) {
	cfg := Config{NodeID: 0, Voters: map[int32]string{0: "127.0.0.1:0", 1: "127.0.0.1:1"}, Dir: t.TempDir(),
		ClusterID: "c", Logger: testLogger(t)}
	cfg.EnsureDefaults()
	delivered := make(chan struct{}, 1)
	tr, err := newTransport(&cfg, func(*pb.Message) bool { delivered <- struct{}{}; return true })
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	for _, hello := range [][]byte{appendHello(nil, 1, 0, "other"), appendHello(nil, 5, 0, "c")} {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", tr.addr().String())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		m, _ := proto.Marshal(&pb.Message{Type: pb.MsgHeartbeat.Enum(), To: proto.Uint64(1), From: proto.Uint64(2)})
		b := binary.BigEndian.AppendUint32(hello, uint32(len(m)))
		conn.Write(append(b, m...))
		conn.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("stranger got data")
		}
		conn.Close()
	}
	select {
	case <-delivered:
		t.Fatal("message from a stranger delivered")
	default:
	}
}
