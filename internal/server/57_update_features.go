package server

// UpdateFeatures (key 57), versions 0-2 (KIP-584, KIP-778).
//
//	v0: feature updates with max_version_level and allow_downgrade.
//	v1: upgrade_type per update (1 upgrade, 2 safe downgrade, 3 unsafe
//	    downgrade) instead of allow_downgrade; validate_only.
//	v2: the response has only the top-level error (no per-feature
//	    results).
//
// The controller checks every update (controller/features.go: the
// supported ranges, no downgrade with upgrade_type 1) and writes all of
// them or none as FeatureLevelRecords; the first failure is the
// top-level INVALID_UPDATE_VERSION, which v0-1 also report per feature
// (Kafka's UpdateFeaturesResponse.createWithErrors). A broker of a
// controller quorum forwards the request to the active controller,
// retrying while it answers NOT_CONTROLLER (forward.go; REQUEST_TIMED_OUT
// per feature too before v2 when none answers); the controller listener
// serves it too. The levels reach ApiVersions' finalized features on
// every node once applied. Gregor has no authorizer (ALTER on CLUSTER in
// Kafka).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	h := handler{key: 57, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleUpdateFeatures(r.(*kmsg.UpdateFeaturesRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleUpdateFeatures(req *kmsg.UpdateFeaturesRequest) kmsg.Response {
	updates := make([]controller.FeatureUpdate, 0, len(req.FeatureUpdates))
	for _, u := range req.FeatureUpdates {
		t := controller.UpgradeType(u.UpgradeType)
		if req.Version == 0 {
			t = controller.UpgradeUpgrade
			if u.AllowDowngrade {
				t = controller.UpgradeSafeDowngrade
			}
		}
		updates = append(updates, controller.FeatureUpdate{Feature: u.Feature, Level: u.MaxVersionLevel, UpgradeType: t})
	}
	err := s.deps.Controller.UpdateFeatures(updates, req.Version >= 1 && req.ValidateOnly)
	return updateFeaturesResponse(req, codeOf(err), messageOf(err))
}

// updateFeaturesResponse answers req with one error (per feature too
// before v2).
func updateFeaturesResponse(req *kmsg.UpdateFeaturesRequest, code int16, msg *string) *kmsg.UpdateFeaturesResponse {
	resp := req.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	resp.ErrorCode, resp.ErrorMessage = code, msg
	if req.Version < 2 {
		for _, u := range req.FeatureUpdates {
			r := kmsg.NewUpdateFeaturesResponseResult()
			r.Feature, r.ErrorCode, r.ErrorMessage = u.Feature, code, msg
			resp.Results = append(resp.Results, r)
		}
	}
	return resp
}
