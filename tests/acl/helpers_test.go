// Package acl tests Gregor's authorization end to end: real brokers over
// TCP with SASL/PLAIN, franz-go clients as different users, every API
// checked against Kafka's "Operations and Resources on Protocols" table
// (denied without the ACL, nothing written or revealed; allowed with
// it), super users, deny over allow, prefixed ACLs,
// allow.everyone.if.no.acl.found, ACLs across a restart and in a
// three-node cluster.
package acl

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/node"
)

// users is the JAAS config of the PLAIN users of every test broker:
// admin (a super user), alice, bob, and u0…u99 for tests that need a
// principal of their own; each password is "<user>-secret".
var users = func() string {
	s := `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret"`
	for _, u := range []string{"admin", "alice", "bob"} {
		s += fmt.Sprintf(` user_%s="%s-secret"`, u, u)
	}
	for i := range 100 {
		s += fmt.Sprintf(` user_u%d="u%d-secret"`, i, i)
	}
	return s + ";"
}()

// broker is one in-process node with a SASL_PLAINTEXT listener.
type broker struct {
	t     *testing.T
	n     *node.Node
	addr  string
	props map[string]string
}

// startBroker starts a single node (both roles) with the
// StandardAuthorizer, super user admin, and extra props.
func startBroker(t *testing.T, extra map[string]string) *broker {
	t.Helper()
	props := map[string]string{
		"node.id":                              "1",
		"process.roles":                        "broker,controller",
		"log.dirs":                             t.TempDir(),
		"listeners":                            "SASL_PLAINTEXT://127.0.0.1:0",
		"inter.broker.listener.name":           "SASL_PLAINTEXT",
		"sasl.enabled.mechanisms":              "PLAIN",
		"sasl.mechanism.inter.broker.protocol": "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": users,
		"offsets.topic.replication.factor":                    "1",
		"offsets.topic.num.partitions":                        "1",
		"transaction.state.log.replication.factor":            "1",
		"transaction.state.log.num.partitions":                "1",
		"transaction.state.log.min.isr":                       "1",
		"group.initial.rebalance.delay.ms":                    "0",
		"auto.create.topics.enable":                           "false",
		"authorizer.class.name":                               acl.StandardAuthorizer,
		"super.users":                                         "User:admin",
	}
	maps.Copy(props, extra)
	b := &broker{t: t, props: props}
	b.start()
	return b
}

func (b *broker) start() {
	b.t.Helper()
	cfg, err := config.NewBroker(b.props)
	if err != nil {
		b.t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("KAFKATEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := node.New(cfg, node.Options{Logger: logger})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { n.Close() })
	b.n, b.addr = n, n.Addrs()[0].String()
}

// restart stops the node and starts it again on the same data.
func (b *broker) restart() {
	b.t.Helper()
	if err := b.n.Close(); err != nil {
		b.t.Fatal(err)
	}
	b.start()
}

// client is a kgo client logged in as user (password user-secret).
func (b *broker) client(user string, opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	return newClient(b.t, []string{b.addr}, user, opts...)
}

func newClient(t *testing.T, seeds []string, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RetryTimeout(5 * time.Second),
		kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism())}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// send sends req to node 1 directly (no coordinator lookup, so a group
// request reaches the handler under test) and returns its response.
func send[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Broker(1).Request(ctxT(t), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

// binding is an ACL for the tests' tables.
func binding(rt acl.ResourceType, name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) acl.Binding {
	return acl.Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: perm}
}

func allow(rt acl.ResourceType, name, principal string, op acl.Operation) acl.Binding {
	return binding(rt, name, acl.PatternLiteral, principal, op, acl.Allow)
}

// createACLs creates bs as cl's user and fails t unless every creation
// succeeds.
func createACLs(t *testing.T, cl *kgo.Client, bs ...acl.Binding) {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range bs {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
		c.Principal, c.Host, c.Operation, c.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.ErrorCode != 0 {
			t.Fatalf("create %v: %v", bs[i], kerr.ErrorForCode(r.ErrorCode))
		}
	}
}

// describeACLs lists every ACL cl's user may see.
func describeACLs(t *testing.T, cl *kgo.Client) ([]acl.Binding, int16) {
	t.Helper()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	var out []acl.Binding
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			out = append(out, acl.Binding{ResourceType: acl.ResourceType(r.ResourceType), ResourceName: r.ResourceName,
				PatternType: acl.PatternType(r.ResourcePatternType), Principal: a.Principal, Host: a.Host,
				Operation: acl.Operation(a.Operation), Permission: acl.Permission(a.PermissionType)})
		}
	}
	return out, resp.ErrorCode
}

// createTopic creates a one-partition topic as cl's user.
func createTopic(t *testing.T, cl *kgo.Client, name string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Topics[0].ErrorCode; c != 0 {
		t.Fatalf("create topic %s: %v", name, kerr.ErrorForCode(c))
	}
}

// endOffset is the log end offset of partition 0 of topic, as admin
// sees it.
func endOffset(t *testing.T, admin *kgo.Client, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := send[*kmsg.ListOffsetsResponse](t, admin, req)
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("list offsets of %s: %v", topic, kerr.ErrorForCode(p.ErrorCode))
	}
	return p.Offset
}

// produceOne produces one record to topic with cl and returns the
// error.
func produceOne(t *testing.T, cl *kgo.Client, topic string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}
