package controller

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Feature levels (KIP-584, KIP-778; Kafka's FeatureControlManager). The
// cluster's level of each feature is in its metadata image
// (metadata/features.go): the default of Kafka 4.0's kafka-storage
// format for metadata.version 4.0-IV3 until a FeatureLevelRecord sets
// another, which only UpdateFeatures (key 57) writes:
//
//	UpdateFeatures ──planUpdateFeatures──▶ FeatureLevelRecord ──▶ every node's image
//
// metadata.version is fixed (4.0-IV3). Every Gregor node of a build
// supports the same ranges (metadata.SupportedFeatures), so, unlike
// Kafka, the brokers' registered ranges are not consulted.

// UpgradeType is how an UpdateFeatures request may move a level (Kafka's
// FeatureUpdate.UpgradeType, the v1+ upgrade_type field).
type UpgradeType int8

// Upgrade types, with Kafka's ids.
const (
	UpgradeUnknown         UpgradeType = 0
	UpgradeUpgrade         UpgradeType = 1
	UpgradeSafeDowngrade   UpgradeType = 2
	UpgradeUnsafeDowngrade UpgradeType = 3
)

// FeatureUpdate is one feature of an UpdateFeatures request.
type FeatureUpdate struct {
	Feature     string
	Level       int16
	UpgradeType UpgradeType
}

// planUpdateFeatures decides an UpdateFeatures against im (Kafka's
// FeatureControlManager.updateFeatures): the updates are checked in
// order and the first failure fails them all with
// INVALID_UPDATE_VERSION, nothing written; otherwise one
// FeatureLevelRecord per update (none with validateOnly). Errors are
// *apierror.Error.
func planUpdateFeatures(im *metadata.Image, updates []FeatureUpdate, validateOnly bool) ([]metadata.Record, error) {
	var recs []metadata.Record
	for _, u := range updates {
		invalid := func(format string, args ...any) error {
			return apierror.New(kerr.InvalidUpdateVersion, "Invalid update version %d for feature %s. %s", u.Level, u.Feature, fmt.Sprintf(format, args...))
		}
		if u.UpgradeType < UpgradeUpgrade || u.UpgradeType > UpgradeUnsafeDowngrade {
			return nil, invalid("The controller does not support the given upgrade type.")
		}
		if u.Level < 0 {
			return nil, invalid("A feature version cannot be less than 0.")
		}
		r, ok := metadata.SupportedFeatures[u.Feature]
		switch {
		case u.Feature == "metadata.version":
			if u.Level != metadataVersionLevel {
				return nil, invalid("Gregor runs metadata.version 4.0-IV3 (%d) only.", metadataVersionLevel)
			}
			continue
		case !ok && u.Level > 0:
			return nil, invalid("The controller does not support this feature.")
		case ok && (u.Level < r.Min || u.Level > r.Max):
			return nil, invalid("The controller only supports versions %d-%d.", r.Min, r.Max)
		}
		if cur := im.FeatureLevel(u.Feature); u.Level < cur && u.UpgradeType == UpgradeUpgrade {
			return nil, invalid("Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.")
		}
		recs = append(recs, metadata.Record{Type: metadata.TypeFeatureLevel, Feature: &metadata.FeatureLevelRecord{Name: u.Feature, FeatureLevel: u.Level}})
	}
	if validateOnly {
		return nil, nil
	}
	return recs, nil
}

// metadataVersionLevel is the metadata.version level Gregor runs (Kafka
// 4.0's 4.0-IV3).
const metadataVersionLevel = 25

// UpdateFeatures sets feature levels (UpdateFeatures, key 57) and returns
// once they are committed. Errors are *apierror.Error
// (INVALID_UPDATE_VERSION, NOT_CONTROLLER, REQUEST_TIMED_OUT) or a
// journal failure.
func (c *Controller) UpdateFeatures(updates []FeatureUpdate, validateOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return err
	}
	recs, err := planUpdateFeatures(c.image.Load(), updates, validateOnly)
	if err != nil {
		return err
	}
	if err := c.commitLocked(recs); err != nil {
		if ae := apiError(err); ae != nil {
			return ae
		}
		return fmt.Errorf("%w: %w", errNotCommitted, err)
	}
	if len(recs) > 0 {
		c.cfg.Logger.Info("feature levels updated", "finalized", c.image.Load().FinalizedFeatures())
	}
	return nil
}
