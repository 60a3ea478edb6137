package controller

import (
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Result is the outcome of one cluster decision, as Kafka's
// ControllerResult: the records to commit, in order and as one batch, and
// the response to send once they are committed. A Result with no records
// needs no commit. The caller owns both.
type Result[T any] struct {
	Records  []metadata.Record
	Response T
}

type partitionKey struct {
	topic metadata.TopicID
	index int32
}

// plan collects the records of one decision. Its records carry absolute
// epochs computed from the partition they change, so a decision that
// changes a partition twice (two brokers fenced in one tick, a partition
// named twice in one request) must build the second change on the first:
// plan reads partitions and broker activity through the changes it has
// planned, the way Kafka's controller replays its records into its
// in-memory state before the next step.
type plan struct {
	im      *metadata.Image
	changed map[partitionKey]metadata.Partition
	// deactivated and activated override the image's view of brokers
	// this plan fences (or shuts down) and unfences.
	deactivated map[int32]bool
	activated   map[int32]bool
	records     []metadata.Record
}

func newPlan(im *metadata.Image) *plan {
	return &plan{
		im:          im,
		changed:     map[partitionKey]metadata.Partition{},
		deactivated: map[int32]bool{},
		activated:   map[int32]bool{},
	}
}

// partition returns partition i of t as the plan leaves it so far.
func (p *plan) partition(t *metadata.Topic, i int32) metadata.Partition {
	if c, ok := p.changed[partitionKey{t.ID, i}]; ok {
		return c
	}
	return t.Partitions[i]
}

// active reports whether broker id may lead and join ISRs once the
// plan's records apply (Kafka's ClusterControlManager.isActive).
func (p *plan) active(id int32) bool {
	if p.deactivated[id] {
		return false
	}
	if p.activated[id] {
		return true
	}
	b, ok := p.im.Broker(id)
	return ok && b.Active()
}

// add appends rec and, for a partition change, makes it visible to later
// reads.
func (p *plan) add(rec metadata.Record) {
	p.records = append(p.records, rec)
	if rec.Type != metadata.TypePartitionChg {
		return
	}
	t, ok := p.im.TopicByID(rec.TopicID)
	if !ok {
		return
	}
	k := partitionKey{rec.TopicID, rec.Partition}
	p.changed[k] = p.partition(t, rec.Partition).Merge(rec)
}

// forEachPartition calls fn with every partition, in topic-name and
// partition order (so decisions are deterministic), as planned so far.
func (p *plan) forEachPartition(fn func(t *metadata.Topic, i int32, part metadata.Partition)) {
	for _, name := range p.im.TopicNames() {
		t, _ := p.im.Topic(name)
		for i := range t.Partitions {
			fn(t, int32(i), p.partition(t, int32(i)))
		}
	}
}

// batchOffset returns the Offset the image will have once recs are
// committed on top of im (the broker epoch of a registration in recs, the
// offset a broker must reach to have seen them).
func batchOffset(im *metadata.Image, recs []metadata.Record) int64 {
	if len(recs) == 0 {
		return im.Offset
	}
	return im.Offset + 1
}
