package controller

import (
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Reference: KIP-730, ProducerIdControlManager.generateNextProducerId.
func TestPlanAllocateProducerIDs(t *testing.T) {
	im, err := metadata.Empty.Apply([]metadata.Record{
		{Type: metadata.TypeRegisterBroker, Broker: &metadata.BrokerRecord{ID: 2, Epoch: 7}},
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		broker     int32
		epoch      int64
		checkEpoch bool
		wantFirst  int64
		wantCode   int16
	}{
		{broker: 2, epoch: 7, checkEpoch: true, wantFirst: 0},
		{broker: 2, epoch: 7, checkEpoch: true, wantFirst: 1000},
		{broker: 2, epoch: 6, checkEpoch: true, wantCode: kerr.StaleBrokerEpoch.Code},
		{broker: 3, epoch: 7, checkEpoch: true, wantCode: kerr.StaleBrokerEpoch.Code}, // not registered
		{broker: 3, epoch: -1, checkEpoch: false, wantFirst: 2000},                    // single node: no check
		{broker: 2, epoch: 7, checkEpoch: true, wantFirst: 3000},
	}
	for i, s := range steps {
		block, recs, err := planAllocateProducerIDs(im, s.broker, s.epoch, s.checkEpoch)
		if s.wantCode != 0 {
			if code(err) != s.wantCode || recs != nil {
				t.Fatalf("step %d: %v, %v, want code %d", i, recs, err, s.wantCode)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		want := ProducerIDsBlock{BrokerID: s.broker, FirstProducerID: s.wantFirst, Size: ProducerIDBlockSize}
		if block != want {
			t.Fatalf("step %d: block %+v, want %+v", i, block, want)
		}
		if len(recs) != 1 || recs[0].Type != metadata.TypeProducerIDs ||
			*recs[0].ProducerIDs != (metadata.ProducerIDsRecord{BrokerID: s.broker, BrokerEpoch: s.epoch, NextProducerID: s.wantFirst + ProducerIDBlockSize}) {
			t.Fatalf("step %d: records %+v", i, recs)
		}
		if im, err = im.Apply(recs); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPlanAllocateProducerIDsExhausted(t *testing.T) {
	im, err := metadata.Empty.Apply([]metadata.Record{{Type: metadata.TypeProducerIDs, ProducerIDs: &metadata.ProducerIDsRecord{NextProducerID: math.MaxInt64 - ProducerIDBlockSize + 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := planAllocateProducerIDs(im, 1, -1, false); code(err) != kerr.UnknownServerError.Code {
		t.Fatalf("allocation past the int64 limit: %v", err)
	}
}

// Blocks never repeat: not after a restart (the journal is replayed), not
// when a commit fails.
func TestAllocateProducerIDsCommits(t *testing.T) {
	j := &memJournal{}
	c, pub := open(t, j)
	for i := range 3 {
		b, err := c.AllocateProducerIDs(1, -1)
		if err != nil || b.FirstProducerID != int64(i)*ProducerIDBlockSize || b.Size != ProducerIDBlockSize {
			t.Fatalf("allocation %d: %+v, %v", i, b, err)
		}
	}
	if got := c.Image().NextProducerID(); got != 3000 || (*pub)[len(*pub)-1].NextProducerID() != 3000 {
		t.Fatalf("image next producer id %d", got)
	}
	j.fail = errors.New("disk full")
	if _, err := c.AllocateProducerIDs(1, -1); err == nil || c.Image().NextProducerID() != 3000 {
		t.Fatalf("allocation without a durable journal: %v", err)
	}
	j.fail = nil

	c2, _ := open(t, j)
	b, err := c2.AllocateProducerIDs(1, -1)
	if err != nil || b.FirstProducerID != 3000 {
		t.Fatalf("after a restart: %+v, %v", b, err)
	}
}
