package server

// ApiVersions (key 18), versions 0-5.
//
//	v0: the list of API keys and their version ranges.
//	v1: throttle_time_ms.
//	v2: no change.
//	v3: flexible; client_software_name/version in the request (KIP-511),
//	    supported/finalized features (KIP-584) as tagged fields.
//	v4: no change.
//	v5: cluster_id and node_id in the request (KIP-1242): when both are
//	    set and either is not ours, REBOOTSTRAP_REQUIRED.
//
// Features (v3+): supported are metadata.version 7-25 and the ranges of
// metadata.SupportedFeatures (transaction.version 0-2); finalized are
// metadata.version 25 (4.0-IV3, fixed) and the image's levels above 0
// (transaction.version 2 unless UpdateFeatures set another), with the
// image's offset as the finalized features epoch.
//
// An ApiVersions request at a version we do not serve gets a v0 response
// with UNSUPPORTED_VERSION and our ranges (see conn.handle).

import (
	"maps"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/protocol"
)

const apiVersionsKey = 18

// metadataVersion is the metadata.version feature level we report (Kafka
// 4.0's 4.0-IV3).
const metadataVersionLevel = 25

func init() {
	register(handler{key: apiVersionsKey, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAPIVersions(c, r.(*kmsg.ApiVersionsRequest)), nil
	}})
}

// apiKeys lists what this server's listeners serve (broker and
// controller listeners differ; see handlers.go).
func (s *Server) apiKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(handlers))
	s.served(func(h *handler) {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = h.key, h.min, h.max
		keys = append(keys, k)
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return keys
}

func (s *Server) handleAPIVersions(c *conn, req *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if req.Version >= 3 {
		c.clientSoftware, c.clientSWVersion = req.ClientSoftwareName, req.ClientSoftwareVersion
		if !validSoftwareField(req.ClientSoftwareName) || !validSoftwareField(req.ClientSoftwareVersion) {
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp
		}
	}
	if req.Version >= 5 && req.ClusterID != nil && req.NodeID >= 0 &&
		(*req.ClusterID != s.cfg.ClusterID || req.NodeID != s.cfg.NodeID) {
		resp.ErrorCode = kerr.RebootstrapRequired.Code
		return resp
	}
	resp.ApiKeys = s.apiKeys()
	if req.Version >= 3 {
		s.appendFeatures(resp)
	}
	return resp
}

// appendFeatures fills the supported and finalized features of an
// ApiVersions response (v3+), by name.
func (s *Server) appendFeatures(resp *kmsg.ApiVersionsResponse) {
	f := kmsg.NewApiVersionsResponseSupportedFeature()
	f.Name, f.MinVersion, f.MaxVersion = "metadata.version", 7, metadataVersionLevel
	resp.SupportedFeatures = append(resp.SupportedFeatures, f)
	for _, name := range slices.Sorted(maps.Keys(metadata.SupportedFeatures)) {
		r := metadata.SupportedFeatures[name]
		f := kmsg.NewApiVersionsResponseSupportedFeature()
		f.Name, f.MinVersion, f.MaxVersion = name, r.Min, r.Max
		resp.SupportedFeatures = append(resp.SupportedFeatures, f)
	}
	im := s.image()
	ff := kmsg.NewApiVersionsResponseFinalizedFeature()
	ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "metadata.version", metadataVersionLevel, metadataVersionLevel
	resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	finalized := im.FinalizedFeatures()
	for _, name := range slices.Sorted(maps.Keys(finalized)) {
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, finalized[name], finalized[name]
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	}
	resp.FinalizedFeaturesEpoch = im.Offset
}

// validSoftwareField is KIP-511's rule for client software name and
// version: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftwareField(v string) bool {
	if v == "" {
		return true // older clients send nothing
	}
	alnum := func(r byte) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' }
	if !alnum(v[0]) || !alnum(v[len(v)-1]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !alnum(v[i]) && v[i] != '-' && v[i] != '.' {
			return false
		}
	}
	return true
}

// unsupportedAPIVersions is the v0 ApiVersions response sent for a
// version we do not serve.
func (s *Server) unsupportedAPIVersions(correlationID int32) []byte {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = s.apiKeys()
	b := protocol.AppendResponseHeader(nil, correlationID, false)
	b = resp.AppendTo(b)
	protocol.FinishFrame(b, 0)
	return b
}
