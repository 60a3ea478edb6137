package connect

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// aclUsers is the PLAIN user list of the ACL tests' broker: admin (a
// super user, the worker's own login) and alice (the connectors').
const aclUsers = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// startACLBroker is a single node with a SASL_PLAINTEXT listener and the
// StandardAuthorizer, super user admin, and no topic auto-creation; the
// returned client logs in as admin.
func startACLBroker(t *testing.T) (secureBroker, *kadm.Client) {
	t.Helper()
	c := kafkatest.Start(t,
		kafkatest.Config("group.initial.rebalance.delay.ms", "0"),
		kafkatest.Config("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("inter.broker.listener.name", "SASL_PLAINTEXT"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name.sasl_plaintext.plain.sasl.jaas.config", aclUsers),
		kafkatest.Config("authorizer.class.name", acl.StandardAuthorizer),
		kafkatest.Config("super.users", "User:admin"),
		kafkatest.Config("auto.create.topics.enable", "false"),
	)
	admin := map[string]string{
		"security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanism":    "PLAIN",
		"sasl.jaas.config":  plainJAAS("admin", "admin-secret"),
	}
	b := secureBroker{c: c, client: admin}
	return b, kadm.NewClient(b.newClient(t))
}

// allowAlice grants User:alice op on a literal resource.
func allowAlice(t *testing.T, adm *kadm.Client, build func(*kadm.ACLBuilder) *kadm.ACLBuilder, op kadm.ACLOperation) {
	t.Helper()
	b := build(kadm.NewACLs().Allow("User:alice").AllowHosts("*").ResourcePatternType(kadm.ACLPatternLiteral)).Operations(op)
	results, err := adm.CreateACLs(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("create ACL %+v: %v", r, r.Err)
		}
	}
}

// asAlice are a connector's overrides that make its clients log in as
// alice (KIP-458, allowed by the default policy All).
func asAlice(prefix string) map[string]string {
	return map[string]string{
		prefix + "sasl.mechanism":   "PLAIN",
		prefix + "sasl.jaas.config": plainJAAS("alice", "alice-secret"),
	}
}

// failedTrace waits until the connector's only task is FAILED and returns
// its trace; it fails t if the task is RUNNING once its consumer or
// producer has surely been refused (the caller's condition).
func failedTrace(t *testing.T, w *Standalone, name string) string {
	t.Helper()
	var trace string
	eventually(t, name+"'s task FAILED", func() bool {
		st, err := w.Herder().ConnectorStatus(name)
		if err != nil || len(st.Tasks) != 1 || st.Tasks[0].State != string(StateFailed) {
			return false
		}
		trace = st.Tasks[0].Trace
		return true
	})
	return trace
}

// Kafka's WorkerSinkTask fails a task whose consumer poll throws: a sink
// whose principal may not READ its topic fails with the
// TopicAuthorizationException naming the topic, one that may not READ
// its group (connect-<name>) with the GroupAuthorizationException naming
// the group, instead of logging fetch errors for ever; with both ACLs the
// same sink delivers. A source whose principal may not WRITE its topic
// fails with the producer's exception, naming the record's topic.
func TestConnectorsWithoutACLsFail(t *testing.T) {
	t.Parallel()
	b, adm := startACLBroker(t)
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "payments"); err != nil {
		t.Fatal(err)
	}
	cl := b.newClient(t, kgo.DefaultProduceTopic("payments"))
	for _, v := range []string{"pay-a", "pay-b"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: jsonLine(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// no-topic may use its group but not the topic; no-group the topic
	// but not its group; allowed both.
	allowAlice(t, adm, func(b *kadm.ACLBuilder) *kadm.ACLBuilder { return b.Groups("connect-no-topic", "connect-allowed") }, kadm.OpRead)
	allowAlice(t, adm, func(b *kadm.ACLBuilder) *kadm.ACLBuilder { return b.Topics("payments") }, kadm.OpRead)
	// WRITE on a topic of her own lets alice's producer be idempotent
	// (KIP-679: without WRITE on any topic, InitProducerId is refused
	// with a ClusterAuthorizationException first, in Kafka as here).
	allowAlice(t, adm, func(b *kadm.ACLBuilder) *kadm.ACLBuilder { return b.Topics("alice-own") }, kadm.OpWrite)
	// READ on payments is granted above, so no-topic reads another
	// topic, on which alice has nothing.
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "secret"); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "pay.txt"), "pay-c\n")
	sink := func(name, topic string) ConnectorSpec {
		return ConnectorSpec{Config: withProps(map[string]string{
			"name": name, "connector.class": "FileStreamSink", "tasks.max": "1",
			"file": filepath.Join(dir, name+".txt"), "topics": topic,
		}, asAlice("consumer.override."))}
	}
	props := withProps(workerProps(b.c, dir), b.client)
	w, err := StartStandalone(ctx, props, []ConnectorSpec{
		sink("no-topic", "secret"),
		sink("no-group", "payments"),
		sink("allowed", "payments"),
		{Config: withProps(map[string]string{
			"name": "pay-source", "connector.class": "FileStreamSource", "tasks.max": "1",
			"file": filepath.Join(dir, "pay.txt"), "topic": "payments",
		}, asAlice("producer.override."))},
	}, StandaloneOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)

	for _, tc := range []struct{ name, want string }{
		{"no-topic", "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [secret]"},
		{"no-group", "org.apache.kafka.common.errors.GroupAuthorizationException: Not authorized to access group: connect-no-group"},
		{"pay-source", "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [payments]"},
	} {
		if trace := failedTrace(t, w, tc.name); !strings.Contains(trace, tc.want) {
			t.Errorf("%s: trace %q, want %q", tc.name, trace, tc.want)
		}
	}
	eventually(t, "the allowed sink's file", func() bool {
		return equalLines(readLines(t, filepath.Join(dir, "allowed.txt")), []string{"pay-a", "pay-b"})
	})
	st, err := w.Herder().ConnectorStatus("allowed")
	if err != nil || len(st.Tasks) != 1 || st.Tasks[0].State != string(StateRunning) {
		t.Errorf("the allowed sink: %+v %v", st, err)
	}
}
