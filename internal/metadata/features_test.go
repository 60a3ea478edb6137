package metadata

import (
	"encoding/json"
	"maps"
	"testing"
)

func featureRecord(name string, level int16) Record {
	return Record{Type: TypeFeatureLevel, Feature: &FeatureLevelRecord{Name: name, FeatureLevel: level}}
}

// A cluster whose log set no level runs at Kafka 4.0's defaults for
// 4.0-IV3 (transaction.version 2); a FeatureLevelRecord sets a level, 0
// included, and snapshots carry what the log set.
//
// Reference: KIP-584 (finalized features), KIP-890 (transaction.version).
func TestFeatureLevelRecords(t *testing.T) {
	if Empty.FeatureLevel(FeatureTransactionVersion) != 2 || Empty.FeatureLevel("group.version") != 0 {
		t.Fatalf("defaults: transaction.version %d, group.version %d", Empty.FeatureLevel(FeatureTransactionVersion), Empty.FeatureLevel("group.version"))
	}
	if got := Empty.FinalizedFeatures(); !maps.Equal(got, map[string]int16{FeatureTransactionVersion: 2}) {
		t.Fatalf("finalized %v", got)
	}
	im, err := Empty.Apply([]Record{featureRecord(FeatureTransactionVersion, 1), featureRecord("group.version", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if im.FeatureLevel(FeatureTransactionVersion) != 1 || im.FeatureLevel("group.version") != 1 {
		t.Fatalf("levels %v", im.FinalizedFeatures())
	}
	down, err := im.Apply([]Record{featureRecord(FeatureTransactionVersion, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if down.FeatureLevel(FeatureTransactionVersion) != 0 || !maps.Equal(down.FinalizedFeatures(), map[string]int16{"group.version": 1}) {
		t.Fatalf("after level 0: %d, %v", down.FeatureLevel(FeatureTransactionVersion), down.FinalizedFeatures())
	}
	if im.FeatureLevel(FeatureTransactionVersion) != 1 {
		t.Fatal("Apply changed its receiver")
	}
	b, err := EncodeImage(down)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b)
	if err != nil || back.FeatureLevel(FeatureTransactionVersion) != 0 || back.FeatureLevel("group.version") != 1 {
		t.Fatalf("snapshot: %v, %v", back.FinalizedFeatures(), err)
	}
	for _, bad := range []Record{{Type: TypeFeatureLevel}, featureRecord("", 1), featureRecord(FeatureTransactionVersion, -1)} {
		if _, err := im.Apply([]Record{bad}); err == nil {
			t.Fatalf("%+v applied", bad)
		}
	}
	// The JSON form names Kafka's fields.
	j, _ := json.Marshal(featureRecord(FeatureTransactionVersion, 2))
	if string(j) != `{"type":"FeatureLevelRecord","feature":{"name":"transaction.version","featureLevel":2}}` {
		t.Fatalf("json %s", j)
	}
}
