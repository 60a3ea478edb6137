package controller

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// ACLs, decided as Kafka's AclControlManager does:
//
//	CreateAcls  each binding validated alone (INVALID_REQUEST with Kafka's
//	            message); a binding that exists already succeeds without a
//	            record; the others get a random id and one
//	            AccessControlEntryRecord each, committed in one batch.
//	DeleteAcls  each filter validated alone; the ACLs it matches are
//	            removed (RemoveAccessControlEntryRecord); an ACL two
//	            filters match is reported by the first only.

// ACLDeleteResult is the outcome of one DeleteAcls filter: Err (nil or
// an *apierror.Error) or the bindings it removed.
type ACLDeleteResult struct {
	Err     error
	Deleted []acl.Binding
}

// CreateACLs creates bindings; the result is one error (nil or an
// *apierror.Error) per binding, in order.
func (c *Controller) CreateACLs(bindings []acl.Binding) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]error, len(bindings))
	if _, err := c.readyLocked(); err != nil {
		for i := range out {
			out[i] = asAPIError(err)
		}
		return out
	}
	set := c.image.Load().ACLs()
	var recs []metadata.Record
	var added []int // indexes of bindings with a record
	inBatch := map[acl.Binding]bool{}
	for i, b := range bindings {
		if err := b.Validate(); err != nil {
			out[i] = invalidRequest(err)
			continue
		}
		if _, exists := set.Find(b); exists || inBatch[b] {
			continue
		}
		inBatch[b] = true
		recs = append(recs, metadata.ACLAddRecord(newACLID(set), b))
		added = append(added, i)
	}
	if err := c.commitLocked(recs); err != nil {
		for _, i := range added {
			out[i] = asAPIError(err)
		}
	} else if len(recs) > 0 {
		c.cfg.Logger.Info("created ACLs", "count", len(recs))
	}
	return out
}

// DeleteACLs removes the ACLs each filter matches; results are in filter
// order.
func (c *Controller) DeleteACLs(filters []acl.Filter) []ACLDeleteResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ACLDeleteResult, len(filters))
	if _, err := c.readyLocked(); err != nil {
		for i := range out {
			out[i].Err = asAPIError(err)
		}
		return out
	}
	set := c.image.Load().ACLs()
	var recs []metadata.Record
	var touched []int
	gone := map[acl.ID]bool{}
	for i, f := range filters {
		if err := f.ValidateFilter(); err != nil {
			out[i].Err = invalidRequest(err)
			continue
		}
		for _, id := range set.SelectIDs(f) {
			if gone[id] {
				continue
			}
			gone[id] = true
			b, _ := set.Get(id)
			out[i].Deleted = append(out[i].Deleted, b)
			recs = append(recs, metadata.ACLRemoveRecord(id))
		}
		touched = append(touched, i)
	}
	if err := c.commitLocked(recs); err != nil {
		for _, i := range touched {
			out[i] = ACLDeleteResult{Err: asAPIError(err)}
		}
	} else if len(recs) > 0 {
		c.cfg.Logger.Info("deleted ACLs", "count", len(recs))
	}
	return out
}

// newACLID returns a random id no ACL in set has.
func newACLID(set *acl.Set) acl.ID {
	for {
		id := acl.ID(uuid.New())
		if _, taken := set.Get(id); !taken && id != (acl.ID{}) {
			return id
		}
	}
}

// invalidRequest turns an acl.ErrInvalid into INVALID_REQUEST with the
// message after the package prefix.
func invalidRequest(err error) error {
	msg := err.Error()
	if errors.Is(err, acl.ErrInvalid) {
		msg = msg[len(acl.ErrInvalid.Error()+": "):]
	}
	return apierror.New(kerr.InvalidRequest, "%s", msg)
}
