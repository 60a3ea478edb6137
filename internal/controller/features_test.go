package controller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// UpdateFeatures checks each update as Kafka's
// FeatureControlManager.updateFeature does and writes all or nothing.
//
// Reference: KIP-584 (UpdateFeatures), KIP-778 (upgrade types).
func TestUpdateFeatures(t *testing.T) {
	j := &memJournal{}
	c, _ := open(t, j)
	tv := metadata.FeatureTransactionVersion
	if got := c.Image().FeatureLevel(tv); got != 2 {
		t.Fatalf("new cluster at transaction.version %d", got)
	}
	for _, tc := range []struct {
		name    string
		updates []FeatureUpdate
	}{
		{"downgrade as upgrade", []FeatureUpdate{{tv, 0, UpgradeUpgrade}}},
		{"unknown upgrade type", []FeatureUpdate{{tv, 2, UpgradeUnknown}}},
		{"negative", []FeatureUpdate{{tv, -1, UpgradeUnsafeDowngrade}}},
		{"above the max", []FeatureUpdate{{tv, 3, UpgradeUpgrade}}},
		{"unknown feature", []FeatureUpdate{{"no.such.feature", 1, UpgradeUpgrade}}},
		{"other metadata.version", []FeatureUpdate{{"metadata.version", 24, UpgradeSafeDowngrade}}},
		{"second one bad", []FeatureUpdate{{tv, 1, UpgradeSafeDowngrade}, {"no.such.feature", 1, UpgradeUpgrade}}},
	} {
		if err := c.UpdateFeatures(tc.updates, false); code(err) != kerr.InvalidUpdateVersion.Code {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if len(j.batches) != 0 || c.Image().FeatureLevel(tv) != 2 {
		t.Fatalf("refused updates wrote %d batches; level %d", len(j.batches), c.Image().FeatureLevel(tv))
	}
	if err := c.UpdateFeatures([]FeatureUpdate{{tv, 0, UpgradeSafeDowngrade}}, true); err != nil || len(j.batches) != 0 {
		t.Fatalf("validate only: %v, %d batches", err, len(j.batches))
	}
	if err := c.UpdateFeatures([]FeatureUpdate{{tv, 0, UpgradeSafeDowngrade}, {"no.such.feature", 0, UpgradeSafeDowngrade}}, false); err != nil {
		t.Fatal(err)
	}
	if c.Image().FeatureLevel(tv) != 0 || len(j.batches) != 1 {
		t.Fatalf("after the downgrade: level %d, %d batches", c.Image().FeatureLevel(tv), len(j.batches))
	}
	if err := c.UpdateFeatures([]FeatureUpdate{{tv, 2, UpgradeUpgrade}, {"metadata.version", 25, UpgradeUpgrade}}, false); err != nil {
		t.Fatal(err)
	}
	// A restart replays the levels.
	c2, _ := open(t, j)
	if c2.Image().FeatureLevel(tv) != 2 || len(j.batches) != 2 {
		t.Fatalf("replayed level %d", c2.Image().FeatureLevel(tv))
	}
}
