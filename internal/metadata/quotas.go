package metadata

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/gregor-streaming/gregor/internal/quota"
)

// Client quotas in the metadata log (KIP-546), one record per entity and
// quota key, as Kafka's ClientQuotaRecord:
//
//	ClientQuotaRecord {entity: [{entityType, entityName}], key, value, remove}
//
// entityType is "user", "client-id" or "ip"; a null entityName is the
// <default> entity. remove drops the key; an entity whose last key is
// removed is gone (ClientQuotasImage). The image keeps
//
//	quotas  map[quota.Entity]map[key]value   copied on write by Apply

// ClientQuotaRecord carries the fields of Kafka's ClientQuotaRecord.
type ClientQuotaRecord struct {
	Entity []QuotaEntityData `json:"entity"`
	Key    string            `json:"key"`
	Value  float64           `json:"value,omitempty"`
	Remove bool              `json:"remove,omitempty"`
}

// QuotaEntityData is one part of a ClientQuotaRecord's entity; a nil
// EntityName is <default>.
type QuotaEntityData struct {
	EntityType string  `json:"entityType"`
	EntityName *string `json:"entityName"`
}

// NewClientQuotaRecord returns the record that sets (or, with remove,
// removes) key of entity e.
func NewClientQuotaRecord(e quota.Entity, key string, value float64, remove bool) Record {
	r := &ClientQuotaRecord{Key: key, Remove: remove}
	if !remove {
		r.Value = value
	}
	for _, c := range e.Components() {
		r.Entity = append(r.Entity, QuotaEntityData{EntityType: c.Type, EntityName: c.Name})
	}
	return Record{Type: TypeClientQuota, ClientQuota: r}
}

// ClientQuotas returns entity e's quota configs, by key; nil when none.
// The map is the image's: callers must not modify it.
func (im *Image) ClientQuotas(e quota.Entity) map[string]float64 { return im.quotas[e] }

// HasClientQuotas reports whether any entity has a quota config.
func (im *Image) HasClientQuotas() bool { return len(im.quotas) > 0 }

// QuotaLookup returns a quota.Lookup over the image's client quotas.
func (im *Image) QuotaLookup() quota.Lookup { return im.ClientQuotas }

// QuotaEntities returns the entities with quota configs, in a stable
// order (by their String form).
func (im *Image) QuotaEntities() []quota.Entity {
	return slices.SortedFunc(maps.Keys(im.quotas), func(a, b quota.Entity) int {
		return cmp.Compare(a.String(), b.String())
	})
}

// applyClientQuota applies a ClientQuotaRecord to an image being built
// by Apply (whose quotas map is its own; the inner maps are shared with
// the previous image and copied before a change).
func (im *Image) applyClientQuota(r Record) error {
	if r.ClientQuota == nil || r.ClientQuota.Key == "" {
		return fmt.Errorf("%s without a key", r.Type)
	}
	var cs []quota.Component
	for _, d := range r.ClientQuota.Entity {
		cs = append(cs, quota.Component{Type: d.EntityType, Name: d.EntityName})
	}
	e, err := quota.NewEntity(cs)
	if err != nil {
		return fmt.Errorf("%s: %w", r.Type, err)
	}
	if im.quotas == nil {
		im.quotas = map[quota.Entity]map[string]float64{}
	}
	m := maps.Clone(im.quotas[e])
	if m == nil {
		m = map[string]float64{}
	}
	if r.ClientQuota.Remove {
		delete(m, r.ClientQuota.Key)
	} else {
		m[r.ClientQuota.Key] = r.ClientQuota.Value
	}
	if len(m) == 0 {
		delete(im.quotas, e)
	} else {
		im.quotas[e] = m
	}
	return nil
}

// clientQuotaRecords returns the records that rebuild the quotas, by
// entity then key (ClientQuotasImage.write).
func (im *Image) clientQuotaRecords() []Record {
	var recs []Record
	for _, e := range im.QuotaEntities() {
		for _, k := range slices.Sorted(maps.Keys(im.quotas[e])) {
			recs = append(recs, NewClientQuotaRecord(e, k, im.quotas[e][k], false))
		}
	}
	return recs
}
