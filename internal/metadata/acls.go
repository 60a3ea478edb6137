package metadata

import (
	"fmt"

	"github.com/gregor-streaming/gregor/internal/acl"
)

// ACLs in the metadata log, as Kafka's AccessControlEntryRecord and
// RemoveAccessControlEntryRecord (KIP-801's StandardAuthorizer keeps
// them there):
//
//	AccessControlEntryRecord        {id, resourceType, resourceName, patternType,
//	                                 principal, host, operation, permissionType}
//	RemoveAccessControlEntryRecord  {id}
//
// The enum fields carry Kafka's codes (package acl). The controller
// gives each new ACL a random id and never writes a binding that exists
// (AclControlManager); an add of an id that exists or a remove of one
// that does not fails the batch. The ACL records of one batch are
// applied together, so a snapshot of many ACLs costs one index build.

// ACLRecord carries the fields of both ACL record types (the remove
// record sets ID only).
type ACLRecord struct {
	ID             TopicID `json:"id"`
	ResourceType   int8    `json:"resourceType,omitempty"`
	ResourceName   string  `json:"resourceName,omitempty"`
	PatternType    int8    `json:"patternType,omitempty"`
	Principal      string  `json:"principal,omitempty"`
	Host           string  `json:"host,omitempty"`
	Operation      int8    `json:"operation,omitempty"`
	PermissionType int8    `json:"permissionType,omitempty"`
}

// ACL record types.
const (
	TypeAccessControlEntry       RecordType = "AccessControlEntryRecord"
	TypeRemoveAccessControlEntry RecordType = "RemoveAccessControlEntryRecord"
)

// ACLs returns the cluster's ACLs. The set is immutable; nil (empty)
// before the first ACL.
func (im *Image) ACLs() *acl.Set { return im.acls }

// ACLAddRecord returns the record that adds b under id.
func ACLAddRecord(id acl.ID, b acl.Binding) Record {
	return Record{Type: TypeAccessControlEntry, ACL: &ACLRecord{
		ID: TopicID(id), ResourceType: int8(b.ResourceType), ResourceName: b.ResourceName, PatternType: int8(b.PatternType),
		Principal: b.Principal, Host: b.Host, Operation: int8(b.Operation), PermissionType: int8(b.Permission),
	}}
}

// ACLRemoveRecord returns the record that removes the ACL with id.
func ACLRemoveRecord(id acl.ID) Record {
	return Record{Type: TypeRemoveAccessControlEntry, ACL: &ACLRecord{ID: TopicID(id)}}
}

// aclChange turns an ACL record into a change of the set, checking it as
// AclControlManager.replay does.
func aclChange(r Record) (acl.Change, error) {
	if r.ACL == nil || r.ACL.ID.IsZero() {
		return acl.Change{}, fmt.Errorf("%s without an id", r.Type)
	}
	c := acl.Change{ID: acl.ID(r.ACL.ID), Remove: r.Type == TypeRemoveAccessControlEntry}
	if !c.Remove {
		c.Binding = acl.Binding{
			ResourceType: acl.ResourceType(r.ACL.ResourceType), ResourceName: r.ACL.ResourceName,
			PatternType: acl.PatternType(r.ACL.PatternType), Principal: r.ACL.Principal, Host: r.ACL.Host,
			Operation: acl.Operation(r.ACL.Operation), Permission: acl.Permission(r.ACL.PermissionType),
		}
		if err := c.Binding.Validate(); err != nil {
			return acl.Change{}, fmt.Errorf("%s %s: %w", r.Type, r.ACL.ID, err)
		}
	}
	return c, nil
}

// aclRecords returns the records that rebuild the ACLs, by id.
func (im *Image) aclRecords() []Record {
	var recs []Record
	for _, id := range im.acls.IDs() {
		b, _ := im.acls.Get(id)
		recs = append(recs, ACLAddRecord(id, b))
	}
	return recs
}
