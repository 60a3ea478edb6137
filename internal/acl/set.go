package acl

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// ID names one binding in the cluster metadata: the Uuid of Kafka's
// AccessControlEntryRecord.
type ID [16]byte

// Set is an immutable set of bindings with the index the authorizer
// looks them up by: per (resource type, pattern type, name) the entries
// of that pattern, so a decision costs one map lookup for the literal
// name, one for the literal wildcard and one per prefix of the name
// (prefixed patterns). A nil *Set is the empty set. Safe for concurrent
// use.
type Set struct {
	byID      map[ID]Binding
	ids       map[Binding]ID
	byPattern map[patternKey][]entry
	perType   map[ResourceType]int
}

type patternKey struct {
	resourceType ResourceType
	patternType  PatternType
	name         string
}

type entry struct {
	principal  string
	host       string
	operation  Operation
	permission Permission
}

// Len returns the number of bindings.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byID)
}

// Get returns the binding with id.
func (s *Set) Get(id ID) (Binding, bool) {
	if s == nil {
		return Binding{}, false
	}
	b, ok := s.byID[id]
	return b, ok
}

// Find returns the id of a binding equal to b.
func (s *Set) Find(b Binding) (ID, bool) {
	if s == nil {
		return ID{}, false
	}
	id, ok := s.ids[b]
	return id, ok
}

// IDs returns the ids of every binding, sorted. The caller owns the
// slice.
func (s *Set) IDs() []ID {
	if s == nil {
		return nil
	}
	return slices.SortedFunc(maps.Keys(s.byID), func(a, b ID) int { return slices.Compare(a[:], b[:]) })
}

// Select returns the bindings f matches, in Kafka's listing order
// (resource type, pattern type, name, then the entry). The caller owns
// the slice.
func (s *Set) Select(f Filter) []Binding {
	if s == nil {
		return nil
	}
	var out []Binding
	for _, b := range s.byID {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, Compare)
	return out
}

// SelectIDs is Select returning the ids, in the same order.
func (s *Set) SelectIDs(f Filter) []ID {
	var out []ID
	for _, b := range s.Select(f) {
		out = append(out, s.ids[b])
	}
	return out
}

// Compare orders bindings by resource type, pattern type, name,
// principal, host, operation and permission.
func Compare(a, b Binding) int {
	return cmp.Or(
		cmp.Compare(a.ResourceType, b.ResourceType),
		cmp.Compare(a.PatternType, b.PatternType),
		cmp.Compare(a.ResourceName, b.ResourceName),
		cmp.Compare(a.Principal, b.Principal),
		cmp.Compare(a.Host, b.Host),
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Permission, b.Permission),
	)
}

// Change is one change to a Set: add Binding under ID, or, with Remove,
// remove the binding with ID.
type Change struct {
	ID      ID
	Remove  bool
	Binding Binding
}

// Apply returns the set after changes, in order; s is not modified. It
// fails, returning no set, on an add of an id already present or a
// remove of an id that is not (a corrupt log: Kafka's
// AclControlManager.replay throws there too).
func (s *Set) Apply(changes []Change) (*Set, error) {
	byID := map[ID]Binding{}
	if s != nil {
		byID = maps.Clone(s.byID)
	}
	for _, c := range changes {
		_, exists := byID[c.ID]
		switch {
		case c.Remove && !exists:
			return nil, fmt.Errorf("%w: no ACL with id %x to remove", ErrCorrupt, c.ID)
		case c.Remove:
			delete(byID, c.ID)
		case exists:
			return nil, fmt.Errorf("%w: an ACL with id %x exists", ErrCorrupt, c.ID)
		default:
			byID[c.ID] = c.Binding
		}
	}
	return build(byID), nil
}

// NewSet returns the set of bindings, keyed by id. It takes the map.
func NewSet(bindings map[ID]Binding) *Set { return build(bindings) }

func build(byID map[ID]Binding) *Set {
	n := &Set{
		byID:      byID,
		ids:       make(map[Binding]ID, len(byID)),
		byPattern: map[patternKey][]entry{},
		perType:   map[ResourceType]int{},
	}
	for id, b := range byID {
		n.ids[b] = id
		k := patternKey{b.ResourceType, b.PatternType, b.ResourceName}
		n.byPattern[k] = append(n.byPattern[k], entry{b.Principal, b.Host, b.Operation, b.Permission})
		n.perType[b.ResourceType]++
	}
	return n
}

// each calls fn with the entries of every pattern that applies to the
// named resource: the literal name, the literal wildcard, and every
// prefix of the name. fn returns false to stop.
func (s *Set) each(t ResourceType, name string, fn func([]entry) bool) {
	if s == nil || s.perType[t] == 0 {
		return
	}
	if es, ok := s.byPattern[patternKey{t, PatternLiteral, name}]; ok && !fn(es) {
		return
	}
	if name != Wildcard {
		if es, ok := s.byPattern[patternKey{t, PatternLiteral, Wildcard}]; ok && !fn(es) {
			return
		}
	}
	for i := 1; i <= len(name); i++ {
		if es, ok := s.byPattern[patternKey{t, PatternPrefixed, name[:i]}]; ok && !fn(es) {
			return
		}
	}
}
