package metadata

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/quota"
)

// Image is the cluster's metadata at one point of the metadata log. An
// Image is immutable: Apply returns a new one. Safe for concurrent use.
type Image struct {
	// Offset is the number of record batches applied.
	Offset int64

	topics     map[string]*Topic
	topicsByID map[TopicID]*Topic
	// configs maps a resource to its explicitly set configs.
	configs map[ConfigResource]map[string]string
	// brokers maps a broker id to its registration (brokers.go); nil
	// until the first registration.
	brokers map[int32]*Broker
	// nextProducerID is the first producer id of the next block to hand
	// out (ProducerIdsRecord); 0 before any.
	nextProducerID int64
	// scram holds the users' SCRAM credentials (scram.go); nil until the
	// first.
	scram map[ScramKey]ScramCredential
	// tokens are the delegation tokens by id (delegation_tokens.go); nil
	// until the first.
	tokens map[string]DelegationToken
	// quotas are the client quota configs (quotas.go); nil until the
	// first.
	quotas map[quota.Entity]map[string]float64
	// features are the feature levels the log set (features.go); nil
	// until the first.
	features map[string]int16
	// acls are the cluster's ACLs (acls.go); nil until the first.
	acls *acl.Set
}

// ConfigResource names a config resource (a topic, or a broker; the empty
// broker name is the cluster-wide default).
type ConfigResource struct {
	Type int8
	Name string
}

// Topic is one topic in an Image. Callers must not modify it.
type Topic struct {
	Name       string
	ID         TopicID
	Partitions []Partition // indexed by partition number
}

// Partition is the registration of one partition. Callers must not modify
// its slices.
type Partition struct {
	Replicas       []int32
	ISR            []int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas are set while a reassignment
	// is in progress (partition.go); both are nil otherwise.
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// Empty is the image before any record.
var Empty = &Image{
	topics:     map[string]*Topic{},
	topicsByID: map[TopicID]*Topic{},
	configs:    map[ConfigResource]map[string]string{},
}

// Topic returns the named topic.
func (im *Image) Topic(name string) (*Topic, bool) {
	t, ok := im.topics[name]
	return t, ok
}

// TopicByID returns the topic with that id.
func (im *Image) TopicByID(id TopicID) (*Topic, bool) {
	t, ok := im.topicsByID[id]
	return t, ok
}

// TopicNames returns the names of all topics, sorted.
func (im *Image) TopicNames() []string {
	names := slices.Collect(maps.Keys(im.topics))
	sort.Strings(names)
	return names
}

// NextProducerID returns the first producer id not yet handed to a broker
// (Kafka's ProducerIdsImage.nextProducerId): 0 before the first block.
func (im *Image) NextProducerID() int64 { return im.nextProducerID }

// NumTopics returns the number of topics.
func (im *Image) NumTopics() int { return len(im.topics) }

// Configs returns the explicitly set configs of a resource. The caller must
// not modify the map.
func (im *Image) Configs(r ConfigResource) map[string]string {
	if m, ok := im.configs[r]; ok {
		return m
	}
	return map[string]string{}
}

// Apply returns the image after recs. It returns an error, and no image,
// if a record does not fit the image (a bug in the controller or a corrupt
// log); the receiver is never modified.
func (im *Image) Apply(recs []Record) (*Image, error) {
	next := &Image{
		Offset:     im.Offset + 1,
		topics:     maps.Clone(im.topics),
		topicsByID: maps.Clone(im.topicsByID),
		configs:    maps.Clone(im.configs),
		brokers:    maps.Clone(im.brokers),
		scram:      maps.Clone(im.scram),
		tokens:     maps.Clone(im.tokens),
		quotas:     maps.Clone(im.quotas),
		features:   maps.Clone(im.features),

		nextProducerID: im.nextProducerID,
		acls:           im.acls,
	}
	var aclChanges []acl.Change // applied together after the loop (acls.go)
	// Topics touched by this batch are copied once, then edited in place.
	copied := map[TopicID]bool{}
	own := func(id TopicID) (*Topic, error) {
		t, ok := next.topicsByID[id]
		if !ok {
			return nil, fmt.Errorf("metadata: unknown topic id %s", id)
		}
		if !copied[id] {
			c := *t
			c.Partitions = slices.Clone(t.Partitions)
			t = &c
			next.topicsByID[id] = t
			next.topics[t.Name] = t
			copied[id] = true
		}
		return t, nil
	}
	for i, r := range recs {
		switch r.Type {
		case TypeTopic:
			if _, ok := next.topics[r.TopicName]; ok {
				return nil, fmt.Errorf("metadata: record %d: topic %q exists", i, r.TopicName)
			}
			t := &Topic{Name: r.TopicName, ID: r.TopicID}
			next.topics[t.Name] = t
			next.topicsByID[t.ID] = t
			copied[t.ID] = true
		case TypePartition:
			t, err := own(r.TopicID)
			if err != nil {
				return nil, err
			}
			if int(r.Partition) != len(t.Partitions) {
				return nil, fmt.Errorf("metadata: record %d: partition %d of %q out of order", i, r.Partition, t.Name)
			}
			t.Partitions = append(t.Partitions, Partition{
				Replicas:         r.Replicas,
				ISR:              r.ISR,
				Leader:           r.Leader,
				LeaderEpoch:      r.LeaderEpoch,
				PartitionEpoch:   r.PartitionEpoch,
				AddingReplicas:   nilIfEmpty(r.AddingReplicas),
				RemovingReplicas: nilIfEmpty(r.RemovingReplicas),
			})
		case TypePartitionChg:
			t, err := own(r.TopicID)
			if err != nil {
				return nil, err
			}
			if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
				return nil, fmt.Errorf("metadata: record %d: no partition %d in %q", i, r.Partition, t.Name)
			}
			p := &t.Partitions[r.Partition]
			if r.PartitionEpoch != p.PartitionEpoch+1 {
				return nil, fmt.Errorf("metadata: record %d: change of %s-%d to partition epoch %d, want %d", i, t.Name, r.Partition, r.PartitionEpoch, p.PartitionEpoch+1)
			}
			*p = p.Merge(r)
		case TypeRemoveTopic:
			t, ok := next.topicsByID[r.TopicID]
			if !ok {
				return nil, fmt.Errorf("metadata: record %d: remove unknown topic id %s", i, r.TopicID)
			}
			delete(next.topicsByID, t.ID)
			delete(next.topics, t.Name)
			delete(next.configs, ConfigResource{Type: ResourceTopic, Name: t.Name})
		case TypeConfig:
			res := ConfigResource{Type: r.ResourceType, Name: r.ResourceName}
			m := maps.Clone(next.configs[res])
			if m == nil {
				m = map[string]string{}
			}
			if r.Value == nil {
				delete(m, r.Name)
			} else {
				m[r.Name] = *r.Value
			}
			if len(m) == 0 {
				delete(next.configs, res)
			} else {
				next.configs[res] = m
			}
		case TypeProducerIDs:
			// Ids never go back (ProducerIdControlManager.replay).
			if r.ProducerIDs == nil || r.ProducerIDs.NextProducerID <= next.nextProducerID {
				return nil, fmt.Errorf("metadata: record %d: producer ids record does not advance the next producer id %d", i, next.nextProducerID)
			}
			next.nextProducerID = r.ProducerIDs.NextProducerID
		case TypeUserScramCredential, TypeRemoveUserScramCredential:
			if err := next.applyScram(r); err != nil {
				return nil, fmt.Errorf("metadata: record %d: %w", i, err)
			}
		case TypeDelegationToken, TypeRemoveDelegationToken:
			if err := next.applyDelegationToken(r); err != nil {
				return nil, fmt.Errorf("metadata: record %d: %w", i, err)
			}
		case TypeClientQuota:
			if err := next.applyClientQuota(r); err != nil {
				return nil, fmt.Errorf("metadata: record %d: %w", i, err)
			}
		case TypeAccessControlEntry, TypeRemoveAccessControlEntry:
			c, err := aclChange(r)
			if err != nil {
				return nil, fmt.Errorf("metadata: record %d: %w", i, err)
			}
			aclChanges = append(aclChanges, c)
		case TypeFeatureLevel:
			if err := next.applyFeature(r); err != nil {
				return nil, fmt.Errorf("metadata: record %d: %w", i, err)
			}
		case TypeRegisterBroker, TypeUnregisterBroker, TypeBrokerRegistrationChange:
			if err := next.applyBroker(r); err != nil {
				return nil, fmt.Errorf("metadata: record %d: %w", i, err)
			}
		default:
			return nil, fmt.Errorf("metadata: record %d: unknown type %q", i, r.Type)
		}
	}
	if len(aclChanges) > 0 {
		acls, err := next.acls.Apply(aclChanges)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		next.acls = acls
	}
	return next, nil
}
