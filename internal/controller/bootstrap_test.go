package controller

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/testnet"
)

func scramBootstrap(t *testing.T, users ...string) BootstrapMetadata {
	t.Helper()
	bm := BootstrapMetadata{MetadataVersion: "4.0-IV3", Source: "format command"}
	for _, u := range users {
		cred, err := security.NewScramCredential(security.ScramSHA512, u+"-secret", []byte("salt-"+u), 4096)
		if err != nil {
			t.Fatal(err)
		}
		bm.Records = append(bm.Records, metadata.Record{Type: metadata.TypeUserScramCredential, Scram: &metadata.ScramCredentialRecord{
			Name: u, Mechanism: int8(security.ScramSHA512), Salt: cred.Salt, StoredKey: cred.StoredKey, ServerKey: cred.ServerKey, Iterations: cred.Iterations,
		}})
	}
	return bm
}

// The checkpoint round-trips; a missing one is no bootstrap; damage of
// any kind is ErrBadBootstrap; records that cannot start a log are not
// written.
func TestBootstrapFile(t *testing.T) {
	dir := t.TempDir()
	if bm, err := ReadBootstrap(dir); err != nil || !reflect.DeepEqual(bm, BootstrapMetadata{}) {
		t.Fatalf("missing file: %+v, %v", bm, err)
	}
	want := scramBootstrap(t, "alice", "bob")
	if err := WriteBootstrap(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBootstrap(dir)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v\nwant %+v", got, err, want)
	}
	path := filepath.Join(dir, BootstrapFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(good[:4]) != "GRBS" {
		t.Fatalf("magic %q", good[:4])
	}
	for name, mutate := range map[string]func([]byte) []byte{
		"truncated header": func(b []byte) []byte { return b[:bootstrapHeader-1] },
		"truncated body":   func(b []byte) []byte { return b[:len(b)-1] },
		"magic":            func(b []byte) []byte { b[0] = 'X'; return b },
		"version":          func(b []byte) []byte { b[5] = 2; return b },
		"checksum":         func(b []byte) []byte { b[len(b)-3] ^= 1; return b },
		"trailing bytes":   func(b []byte) []byte { return append(b, 0) },
	} {
		if err := os.WriteFile(path, mutate(slices.Clone(good)), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadBootstrap(dir); !errors.Is(err, ErrBadBootstrap) {
			t.Errorf("%s: %v, want ErrBadBootstrap", name, err)
		}
	}
	remove := BootstrapMetadata{Records: []metadata.Record{{Type: metadata.TypeRemoveUserScramCredential,
		Scram: &metadata.ScramCredentialRecord{Name: "alice", Mechanism: 2}}}}
	if err := WriteBootstrap(t.TempDir(), remove); err == nil {
		t.Error("wrote records that do not apply to an empty log")
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
}

// A single node writes the bootstrap records as the first batch of its
// empty log, before the first image is published, and never again: not
// on a restart, not over an existing log.
//
// Reference: Kafka's QuorumController, ActivationRecordsGenerator
// (bootstrap records only for an empty log), KIP-900 (--add-scram).
func TestBootstrapSingleNode(t *testing.T) {
	dir := t.TempDir()
	bm := scramBootstrap(t, "alice")
	if err := WriteBootstrap(dir, bm); err != nil {
		t.Fatal(err)
	}
	j := &memJournal{}
	var published []*metadata.Image
	openJ := func(j *memJournal) *Controller {
		c, err := Open(Config{NodeID: 1, BootstrapDir: dir}, j, func(im *metadata.Image) { published = append(published, im) })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := openJ(j)
	if len(j.batches) != 1 || !reflect.DeepEqual(j.batches[0], bm.Records) {
		t.Fatalf("log %+v, want the bootstrap batch", j.batches)
	}
	if _, ok := c.Image().ScramCredential("alice", 2); !ok {
		t.Fatal("alice not in the image")
	}
	if len(published) != 1 || published[0] != c.Image() {
		t.Fatalf("published %d images, want only the bootstrapped one", len(published))
	}
	openJ(j) // restart
	if len(j.batches) != 1 {
		t.Fatalf("restart wrote the bootstrap records again: %d batches", len(j.batches))
	}

	// A log that has a batch is not empty: nothing is written.
	j2 := &memJournal{batches: [][]metadata.Record{topicRecords("t", 1)}}
	c2 := openJ(j2)
	if len(j2.batches) != 1 {
		t.Fatalf("bootstrapped a non-empty log: %d batches", len(j2.batches))
	}
	if _, ok := c2.Image().ScramCredential("alice", 2); ok {
		t.Fatal("alice in a non-empty log's image")
	}
	// A failed write fails the start.
	if _, err := Open(Config{NodeID: 1, BootstrapDir: dir}, &memJournal{fail: errors.New("disk")}, nil); err == nil {
		t.Fatal("open succeeded without writing the bootstrap records")
	}
	// A damaged checkpoint fails the start too.
	if err := os.WriteFile(filepath.Join(dir, BootstrapFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{NodeID: 1, BootstrapDir: dir}, &memJournal{}, nil); !errors.Is(err, ErrBadBootstrap) {
		t.Fatalf("open with a damaged checkpoint: %v", err)
	}
}

// Three controllers formatted alike, each with its own checkpoint (as
// kafka-storage format leaves them): whichever becomes active first
// writes the records; the next leader, which finds the log non-empty,
// does not. The records are in the log once.
func TestBootstrapQuorum(t *testing.T) {
	bm := scramBootstrap(t, "alice", "bob")
	voters := map[int32]string{}
	bound := map[int32]net.Listener{}
	dirs := map[int32]string{}
	for id := int32(1); id <= 3; id++ {
		ln, err := testnet.Listen()
		if err != nil {
			t.Fatal(err)
		}
		voters[id], bound[id] = ln.Addr().String(), ln
		dirs[id] = t.TempDir()
		if err := WriteBootstrap(dirs[id], bm); err != nil {
			t.Fatal(err)
		}
	}
	open := func(id int32) *Controller {
		ln := bound[id]
		delete(bound, id)
		c, err := OpenQuorum(Config{NodeID: id, BootstrapDir: dirs[id]}, QuorumConfig{
			Raft: raft.Config{
				NodeID: id, Voters: voters, Dir: filepath.Join(dirs[id], "__cluster_metadata-0"),
				ElectionTimeout: 500 * time.Millisecond,
				Listen: func(network, addr string) (net.Listener, error) {
					if ln != nil {
						l := ln
						ln = nil
						return l, nil
					}
					return testnet.Rebind(network, addr, 10*time.Second)
				},
			},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	members := map[int32]*Controller{}
	for id := int32(1); id <= 3; id++ {
		members[id] = open(id)
	}
	t.Cleanup(func() {
		for _, c := range members {
			c.Close()
		}
	})
	bootstrapped := func(c *Controller) bool {
		_, a := c.Image().ScramCredential("alice", 2)
		_, b := c.Image().ScramCredential("bob", 2)
		return a && b
	}
	// The active controller writes them without being asked anything
	// (its tick loop runs on activation); every member applies them.
	for id, c := range members {
		waitUntil(t, fmt.Sprint("bootstrap records on member ", id), func() bool { return bootstrapped(c) })
	}
	leader, _ := members[1].ActiveController()
	lc := members[leader]
	if lc == nil {
		t.Fatalf("leader %d is not a member", leader)
	}
	offset := lc.Image().Offset
	if offset != 1 {
		t.Fatalf("offset %d after bootstrap, want the one batch", offset)
	}
	// Another member takes over: the log is not empty, nothing is written.
	lc.Close()
	delete(members, leader)
	var next *Controller
	waitUntil(t, "a new leader", func() bool {
		for _, c := range members {
			if id, _ := c.ActiveController(); id != leader && id > 0 && members[id] != nil {
				if _, err := members[id].readyForTest(); err == nil {
					next = members[id]
					return true
				}
			}
		}
		return false
	})
	// Its activation ran the bootstrap check (readyLocked) and wrote
	// nothing: still the one batch.
	if got := next.Image().Offset; got != offset {
		t.Fatalf("offset %d after the new leader's activation, want %d", got, offset)
	}
	if got := next.Image().ScramUsers(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("users %q", got)
	}
}

// readyForTest reports whether c may decide now (the tick loop runs the
// bootstrap check at that point).
func (c *Controller) readyForTest() (*Cluster, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readyLocked()
}

// FuzzDecodeBootstrap: decoding never panics, and whatever decodes is
// records that apply to an empty image and that write and read back the
// same.
func FuzzDecodeBootstrap(f *testing.F) {
	dir := f.TempDir()
	bm := BootstrapMetadata{MetadataVersion: "4.0-IV3", Source: "format command", Records: []metadata.Record{{
		Type: metadata.TypeUserScramCredential, Scram: &metadata.ScramCredentialRecord{Name: "alice", Mechanism: 2, Salt: []byte("s"), StoredKey: []byte("k"), ServerKey: []byte("v"), Iterations: 4096},
	}}}
	if err := WriteBootstrap(dir, bm); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, BootstrapFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:bootstrapHeader])
	f.Add([]byte("GRBS\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeBootstrap(data)
		if err != nil {
			return
		}
		if _, err := metadata.Empty.Apply(got.Records); err != nil {
			t.Fatalf("decoded records that do not apply: %v", err)
		}
		d := t.TempDir()
		if err := WriteBootstrap(d, got); err != nil {
			t.Fatal(err)
		}
		again, err := ReadBootstrap(d)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, got)
		}
	})
}
