package metadata

import (
	"fmt"
	"maps"
	"slices"
)

// Feature levels in the metadata log (KIP-584, KIP-778): one record per
// feature, as Kafka's FeatureLevelRecord, so that every node applying the
// log runs the cluster at the same level:
//
//	FeatureLevelRecord  {name, featureLevel}
//
// Gregor runs one metadata.version, Kafka 4.0's 4.0-IV3 (what
// kafka-storage format reports), which is not recorded. A feature the log
// never set is at DefaultFeatureLevels, the levels Kafka 4.0's
// kafka-storage format finalizes for 4.0-IV3, so a new cluster needs no
// bootstrap record; a record sets the level, 0 included (Kafka's replay
// removes a feature at level 0, which here would bring back the default,
// so a level 0 is kept as an explicit 0).

// TypeFeatureLevel sets a feature's finalized level (Kafka's
// FeatureLevelRecord).
const TypeFeatureLevel RecordType = "FeatureLevelRecord"

// FeatureTransactionVersion is transaction.version (KIP-890): 0 the
// original protocol, 1 flexible __transaction_state values, 2 an epoch
// bump per transaction and partitions added to transactions by their
// leaders.
const FeatureTransactionVersion = "transaction.version"

// FeatureRange is the range of levels of a feature this build supports.
type FeatureRange struct{ Min, Max int16 }

// SupportedFeatures are the features, besides metadata.version, whose
// levels this build supports (ApiVersions' supported_features; the
// levels UpdateFeatures may finalize). Callers must not modify it.
var SupportedFeatures = map[string]FeatureRange{
	FeatureTransactionVersion: {Min: 0, Max: 2},
}

// DefaultFeatureLevels are the levels of features the metadata log never
// set: Kafka 4.0's Features.defaultLevel for metadata.version 4.0-IV3
// (TransactionVersion.TV_2 bootstraps from 4.0-IV2). Features Gregor does
// not implement (group.version) are left out. Callers must not modify it.
var DefaultFeatureLevels = map[string]int16{
	FeatureTransactionVersion: 2,
}

// FeatureLevelRecord carries the fields of Kafka's FeatureLevelRecord.
type FeatureLevelRecord struct {
	Name         string `json:"name"`
	FeatureLevel int16  `json:"featureLevel"`
}

// FeatureLevel returns the finalized level of a feature: the level the
// log last set, else its default (0 for a feature without one).
func (im *Image) FeatureLevel(name string) int16 {
	if l, ok := im.features[name]; ok {
		return l
	}
	return DefaultFeatureLevels[name]
}

// FinalizedFeatures returns the finalized features with a level above 0
// (what ApiVersions lists as finalized), by name. The caller owns the
// map.
func (im *Image) FinalizedFeatures() map[string]int16 {
	out := maps.Clone(DefaultFeatureLevels)
	maps.Copy(out, im.features)
	maps.DeleteFunc(out, func(_ string, l int16) bool { return l <= 0 })
	return out
}

// applyFeature applies a FeatureLevelRecord to an image being built by
// Apply (whose features map is its own).
func (im *Image) applyFeature(r Record) error {
	if r.Feature == nil || r.Feature.Name == "" {
		return fmt.Errorf("%s without a feature name", r.Type)
	}
	if r.Feature.FeatureLevel < 0 {
		return fmt.Errorf("%s: feature %s at negative level %d", r.Type, r.Feature.Name, r.Feature.FeatureLevel)
	}
	if im.features == nil {
		im.features = map[string]int16{}
	}
	im.features[r.Feature.Name] = r.Feature.FeatureLevel
	return nil
}

// featureRecords returns the records that rebuild the levels the log
// set, by name.
func (im *Image) featureRecords() []Record {
	var recs []Record
	for _, name := range slices.Sorted(maps.Keys(im.features)) {
		recs = append(recs, Record{Type: TypeFeatureLevel, Feature: &FeatureLevelRecord{Name: name, FeatureLevel: im.features[name]}})
	}
	return recs
}
