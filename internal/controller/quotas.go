package controller

import (
	"errors"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/quota"
)

// Client quotas (KIP-546), decided as Kafka's ClientQuotaControlManager
// does: each entity of a request is checked alone (its components, then
// each key and value) and fails alone; the records of the entities that
// pass are committed in one batch, and only for values that change:
//
//	op {key, value}        ClientQuotaRecord {entity, key, value}
//	op {key, remove}       ClientQuotaRecord {entity, key, remove: true}
//	                       (none when the entity does not have key)

// QuotaAlteration changes the quota configs of one entity.
type QuotaAlteration struct {
	Entity []quota.Component
	Ops    []QuotaOp
}

// QuotaOp sets Key to Value, or removes it.
type QuotaOp struct {
	Key    string
	Value  float64
	Remove bool
}

// QuotaAlterationResult is the outcome for one alteration, in request
// order; Err is nil or an *apierror.Error.
type QuotaAlterationResult struct {
	Entity []quota.Component
	Err    error
}

// AlterClientQuotas checks alterations and, unless validateOnly, commits
// the records of those that pass.
func (c *Controller) AlterClientQuotas(alterations []QuotaAlteration, validateOnly bool) []QuotaAlterationResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]QuotaAlterationResult, len(alterations))
	for i, a := range alterations {
		out[i].Entity = a.Entity
	}
	if _, err := c.readyLocked(); err != nil {
		for i := range out {
			out[i].Err = asAPIError(err)
		}
		return out
	}
	im := c.image.Load()
	var recs []metadata.Record
	var ok []int
	for i, a := range alterations {
		r, err := quotaRecords(im, a)
		if err != nil {
			out[i].Err = err
			continue
		}
		recs = append(recs, r...)
		ok = append(ok, i)
	}
	if validateOnly {
		return out
	}
	if err := c.commitLocked(recs); err != nil {
		for _, i := range ok {
			out[i].Err = asAPIError(err)
		}
	} else if len(recs) > 0 {
		c.cfg.Logger.Info("altered client quotas", "entities", len(ok), "records", len(recs))
	}
	return out
}

// quotaRecords checks one alteration against im and returns its records
// (ClientQuotaControlManager.alterClientQuotaEntity).
func quotaRecords(im *metadata.Image, a QuotaAlteration) ([]metadata.Record, error) {
	e, err := quota.NewEntity(a.Entity)
	if err != nil {
		return nil, quotaError(err)
	}
	// Later ops on one key win, as Kafka collects them into a map.
	want := map[string]*float64{}
	for _, op := range a.Ops {
		if op.Remove {
			want[op.Key] = nil
		} else {
			v := op.Value
			want[op.Key] = &v
		}
	}
	current := im.ClientQuotas(e)
	var recs []metadata.Record
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v := want[k]
		if v == nil {
			if _, has := current[k]; has {
				recs = append(recs, metadata.NewClientQuotaRecord(e, k, 0, true))
			}
			continue
		}
		if err := quota.ValidateValue(e, k, *v); err != nil {
			return nil, quotaError(err)
		}
		if cur, has := current[k]; !has || cur != *v {
			recs = append(recs, metadata.NewClientQuotaRecord(e, k, *v, false))
		}
	}
	return recs, nil
}

// quotaError is INVALID_REQUEST with Kafka's message for the quota
// package's errors.
func quotaError(err error) error {
	if errors.Is(err, quota.ErrInvalidEntity) || errors.Is(err, quota.ErrInvalidValue) {
		return apierror.New(kerr.InvalidRequest, "%s", quota.Message(err))
	}
	return asAPIError(err)
}
