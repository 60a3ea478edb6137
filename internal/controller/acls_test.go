package controller

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/apierror"
)

// Reference: Kafka's AclControlManager (validateNewAcl, duplicate
// bindings, deleteAcls) and AclControlManagerTest.
func TestCreateDeleteACLs(t *testing.T) {
	j := &memJournal{}
	c, _ := open(t, j)
	w := acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "t", PatternType: acl.PatternLiteral, Principal: "User:a", Host: "*", Operation: acl.OpWrite, Permission: acl.Allow}
	r := w
	r.Operation = acl.OpRead
	bad := w
	bad.ResourceName = ""
	errs := c.CreateACLs([]acl.Binding{w, bad, r, w})
	if errs[0] != nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("create: %v", errs)
	}
	if code(errs[1]) != kerr.InvalidRequest.Code || !strings.Contains(*apierror.Message(errs[1]), "Resource name should not be empty") {
		t.Fatalf("empty name: %v", errs[1])
	}
	if n := c.Image().ACLs().Len(); n != 2 {
		t.Fatalf("%d ACLs, want 2", n)
	}
	batches := len(j.batches)
	// Creating an existing binding succeeds without a record.
	if errs := c.CreateACLs([]acl.Binding{w}); errs[0] != nil || len(j.batches) != batches {
		t.Fatalf("existing binding: %v, %d batches", errs, len(j.batches)-batches)
	}

	writes := acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpWrite, Permission: acl.PermissionAny}
	all := acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}
	unknown := all
	unknown.Operation = acl.OpUnknown
	res := c.DeleteACLs([]acl.Filter{writes, all, unknown})
	if res[0].Err != nil || len(res[0].Deleted) != 1 || res[0].Deleted[0] != w {
		t.Fatalf("first filter: %+v", res[0])
	}
	// The write ACL went to the first filter only.
	if res[1].Err != nil || len(res[1].Deleted) != 1 || res[1].Deleted[0] != r {
		t.Fatalf("second filter: %+v", res[1])
	}
	if code(res[2].Err) != kerr.InvalidRequest.Code {
		t.Fatalf("unknown operation: %v", res[2].Err)
	}
	if n := c.Image().ACLs().Len(); n != 0 {
		t.Fatalf("%d ACLs left", n)
	}

	// The ACLs are in the journal: a controller replaying it has them.
	if errs := c.CreateACLs([]acl.Binding{r}); errs[0] != nil {
		t.Fatal(errs)
	}
	c2, _ := open(t, j)
	if _, ok := c2.Image().ACLs().Find(r); !ok || c2.Image().ACLs().Len() != 1 {
		t.Fatal("replayed controller lost the ACL")
	}
}
