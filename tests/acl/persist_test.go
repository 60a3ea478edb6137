package acl

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// ACLs are metadata records: they survive a restart, and a removal
// does too.
func TestACLsSurviveRestart(t *testing.T) {
	b := startBroker(t, nil)
	admin := b.client("admin")
	createTopic(t, admin, "t")
	keep := allow(rTopic, "t", "User:alice", acl.OpWrite)
	gone := allow(rTopic, "t", "User:bob", acl.OpWrite)
	createACLs(t, admin, keep, gone)
	deleteACLs(t, admin, gone)
	b.restart()
	admin = b.client("admin")
	got, code := describeACLs(t, admin)
	if code != 0 || !slices.Equal(got, []acl.Binding{keep}) {
		t.Fatalf("after a restart: %v %v, want [%v]", got, kerr.ErrorForCode(code), keep)
	}
	if err := produceOne(t, b.client("alice", kgo.RecordRetries(2)), "t"); err != nil {
		t.Fatalf("alice after a restart: %v", err)
	}
	if err := produceOne(t, b.client("bob", kgo.RecordRetries(2)), "t"); err == nil {
		t.Fatal("bob produced after his ACL was removed")
	}
}

// deleteACLs removes exactly bs.
func deleteACLs(t *testing.T, cl *kgo.Client, bs ...acl.Binding) {
	t.Helper()
	req := kmsg.NewPtrDeleteACLsRequest()
	for _, b := range bs {
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), kmsg.StringPtr(b.ResourceName), kmsg.ACLResourcePatternType(b.PatternType)
		f.Principal, f.Host = kmsg.StringPtr(b.Principal), kmsg.StringPtr(b.Host)
		f.Operation, f.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		req.Filters = append(req.Filters, f)
	}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.ErrorCode != 0 || len(r.MatchingACLs) != 1 {
			t.Fatalf("delete %v: %v, %d matched", bs[i], kerr.ErrorForCode(r.ErrorCode), len(r.MatchingACLs))
		}
	}
}

// In a three-node cluster, ACLs created through any broker (forwarded to
// the active controller) reach every node's metadata, where each
// broker's authorizer reads them, and a restarted node still has them.
// The nodes talk PLAINTEXT to each other, so User:ANONYMOUS (the
// inter-node principal) is the super user, as Kafka's documentation
// advises for PLAINTEXT inter-broker listeners.
func TestACLsReplicateInCluster(t *testing.T) {
	c := kafkatest.StartCluster(t, 3,
		kafkatest.Config("authorizer.class.name", acl.StandardAuthorizer),
		kafkatest.Config("super.users", "User:ANONYMOUS"))
	var want []acl.Binding
	for _, id := range c.BrokerIDs() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.BrokerAddr(id)))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		b := allow(rTopic, "t", "User:alice", acl.OpWrite)
		b.Host = "10.0.0." + string(rune('0'+id))
		req := kmsg.NewPtrCreateACLsRequest()
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = kmsg.ACLResourceTypeTopic, b.ResourceName, kmsg.ACLResourcePatternTypeLiteral
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = b.Principal, b.Host, kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeAllow
		req.Creations = append(req.Creations, cr)
		// Sent to this very broker: the ones that are not the active
		// controller forward it.
		resp, err := cl.Broker(int(id)).Request(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.(*kmsg.CreateACLsResponse).Results[0].ErrorCode; code != 0 {
			t.Fatalf("create through broker %d: %v", id, kerr.ErrorForCode(code))
		}
		want = append(want, b)
	}
	slices.SortFunc(want, acl.Compare)
	waitAll := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for _, id := range c.NodeIDs() {
			for {
				got := c.Node(id).Image().ACLs().Select(acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny})
				if slices.Equal(got, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node %d has %v, want %v", id, got, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	waitAll()
	// Every broker answers DescribeAcls from its own image.
	for _, id := range c.BrokerIDs() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.BrokerAddr(id)))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp, err := cl.Broker(int(id)).Request(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if r := resp.(*kmsg.DescribeACLsResponse); r.ErrorCode != 0 || len(r.Resources) != 1 || len(r.Resources[0].ACLs) != 3 {
			t.Fatalf("DescribeAcls on broker %d: %+v", id, r)
		}
	}
	// A node restarted from its data (log and snapshot) has them.
	restarted := c.BrokerIDs()[1]
	if err := c.RestartNode(restarted); err != nil {
		t.Fatal(err)
	}
	waitAll()
}
