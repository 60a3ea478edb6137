package metadata

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// A metadata snapshot is an Image written as the records that rebuild it
// from Empty, as Kafka's metadata snapshots are (KIP-630): the Raft log
// is compacted up to a snapshot, and a node that loads one applies its
// records to Empty and then the batches after it.
//
//	{
//	  "version": 1,
//	  "offset":  Image.Offset,
//	  "records": [ FeatureLevelRecord ...,                 by feature name
//	               TopicRecord, PartitionRecord 0..n-1,   per topic, by name
//	               ...,
//	               ConfigRecord ... ]                      by resource, then name
//	}
//
// The encoding is deterministic: equal images encode to equal bytes.

const snapshotVersion = 1

// ErrBadSnapshot is returned by DecodeImage for bytes that are not a
// snapshot this package can read.
var ErrBadSnapshot = errors.New("metadata: bad snapshot")

type snapshotFile struct {
	Version int      `json:"version"`
	Offset  int64    `json:"offset"`
	Records []Record `json:"records"`
}

// Records returns records that, applied to Empty as one batch, rebuild
// im's topics, partitions and configs. The caller owns the slice; the
// records share im's Replicas and ISR slices, which must not be modified.
func (im *Image) Records() []Record {
	recs := im.featureRecords()
	for _, b := range im.Brokers() {
		recs = append(recs, b.Record())
	}
	if im.nextProducerID > 0 {
		// As Kafka's ProducerIdsImage.write: no broker, only the next id.
		recs = append(recs, Record{Type: TypeProducerIDs, ProducerIDs: &ProducerIDsRecord{BrokerID: -1, BrokerEpoch: -1, NextProducerID: im.nextProducerID}})
	}
	recs = append(recs, im.scramRecords()...)
	recs = append(recs, im.delegationTokenRecords()...)
	recs = append(recs, im.clientQuotaRecords()...)
	recs = append(recs, im.aclRecords()...)
	for _, name := range im.TopicNames() {
		t := im.topics[name]
		recs = append(recs, Record{Type: TypeTopic, TopicName: t.Name, TopicID: t.ID})
		for i, p := range t.Partitions {
			recs = append(recs, Record{
				Type:             TypePartition,
				TopicID:          t.ID,
				Partition:        int32(i),
				Replicas:         p.Replicas,
				ISR:              p.ISR,
				Leader:           p.Leader,
				LeaderEpoch:      p.LeaderEpoch,
				PartitionEpoch:   p.PartitionEpoch,
				AddingReplicas:   p.AddingReplicas,
				RemovingReplicas: p.RemovingReplicas,
			})
		}
	}
	resources := slices.SortedFunc(maps.Keys(im.configs), func(a, b ConfigResource) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
	})
	for _, r := range resources {
		m := im.configs[r]
		for _, name := range slices.Sorted(maps.Keys(m)) {
			v := m[name]
			recs = append(recs, Record{
				Type:         TypeConfig,
				ResourceType: r.Type,
				ResourceName: r.Name,
				Name:         name,
				Value:        &v,
			})
		}
	}
	return recs
}

// EncodeImage encodes im as a snapshot.
func EncodeImage(im *Image) ([]byte, error) {
	b, err := json.Marshal(snapshotFile{Version: snapshotVersion, Offset: im.Offset, Records: im.Records()})
	if err != nil {
		return nil, fmt.Errorf("metadata: encode snapshot: %w", err)
	}
	return b, nil
}

// DecodeImage decodes a snapshot written by EncodeImage. Errors wrap
// ErrBadSnapshot.
func DecodeImage(b []byte) (*Image, error) {
	var f snapshotFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	if f.Version != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadSnapshot, f.Version)
	}
	if f.Offset < 0 {
		return nil, fmt.Errorf("%w: offset %d", ErrBadSnapshot, f.Offset)
	}
	im, err := Empty.Apply(f.Records)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	if len(im.topics) != len(im.topicsByID) {
		// Apply keys topics by name and by id; a snapshot that reuses an
		// id would leave the two maps disagreeing.
		return nil, fmt.Errorf("%w: topic id used twice", ErrBadSnapshot)
	}
	im.Offset = f.Offset
	return im, nil
}
