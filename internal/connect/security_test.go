package connect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/clientconfig"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// plainUsers is the brokers' PLAIN user list: admin (the brokers' own
// user) and connect.
const plainUsers = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_connect="connect-secret";`

func plainJAAS(user, pass string) string {
	return fmt.Sprintf(`org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s";`, user, pass)
}

// secureBroker is a single node whose only listener is protocol
// (SASL_PLAINTEXT or SASL_SSL, PLAIN), and the client settings
// (Kafka's names) that reach it as the user connect.
type secureBroker struct {
	c      *kafkatest.Cluster
	client map[string]string
}

func startSecureBroker(t *testing.T, protocol string) secureBroker {
	t.Helper()
	opts := []kafkatest.Opt{
		kafkatest.Config("group.initial.rebalance.delay.ms", "0"),
		kafkatest.Config("listeners", protocol+"://127.0.0.1:0"),
		kafkatest.Config("inter.broker.listener.name", protocol),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name."+strings.ToLower(protocol)+".plain.sasl.jaas.config", plainUsers),
	}
	client := map[string]string{
		"security.protocol": protocol,
		"sasl.mechanism":    "PLAIN",
		"sasl.jaas.config":  plainJAAS("connect", "connect-secret"),
	}
	if strings.HasSuffix(protocol, "_SSL") {
		dir := t.TempDir()
		ca := securitytest.NewCA(t, "ca")
		keystore := ca.Issue(t, "CN=broker", "127.0.0.1", "localhost").WriteKeystore(t, dir, "broker")
		opts = append(opts, kafkatest.Config("ssl.keystore.type", "PEM"), kafkatest.Config("ssl.keystore.location", keystore))
		client["ssl.truststore.type"] = "PEM"
		client["ssl.truststore.location"] = ca.WriteTruststore(t, dir, "ca")
	}
	return secureBroker{c: kafkatest.Start(t, opts...), client: client}
}

// newClient returns the test's own client of the broker.
func (b secureBroker) newClient(t *testing.T, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts, _, err := clientconfig.Options(b.client, clientconfig.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(append(opts, kgo.SeedBrokers(b.c.Addr())), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func withProps(base map[string]string, more ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range append([]map[string]string{base}, more...) {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// Kafka's quickstart against a cluster whose listener wants SASL (and
// TLS): the security settings are written once, at the worker level,
// and reach the worker's admin client, the source's producer and the
// sink's consumer. A wrong password stops the worker at start with
// Kafka's "Check worker's broker connection and security properties",
// at once rather than after the cluster id lookup's timeout.
func TestSecureQuickstart(t *testing.T) {
	for _, protocol := range []string{"SASL_PLAINTEXT", "SASL_SSL"} {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			b := startSecureBroker(t, protocol)
			dir := t.TempDir()
			src, sink := filepath.Join(dir, "test.txt"), filepath.Join(dir, "test.sink.txt")
			appendFile(t, src, "foo\nbar\n")
			props := withProps(workerProps(b.c, dir), b.client)
			ctx := context.Background()
			w, err := StartStandalone(ctx, props, quickstartConnectors(dir), StandaloneOptions{Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "foo and bar in test.sink.txt", func() bool { return equalLines(readLines(t, sink), []string{"foo", "bar"}) })
			appendFile(t, src, "Another line\n")
			eventually(t, "the appended line", func() bool {
				return equalLines(readLines(t, sink), []string{"foo", "bar", "Another line"})
			})
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			// The sink's group committed through the secured listener.
			offs, err := kadm.NewClient(b.newClient(t)).FetchOffsets(ctx, groupID("local-file-sink"))
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := offs.Lookup("connect-test", 0); !ok || o.At != 3 {
				t.Errorf("committed offset of the sink: %+v %v, want 3", o, ok)
			}

			wrong := withProps(props, map[string]string{"sasl.jaas.config": plainJAAS("connect", "wrong")})
			// Only the immediate failure says "Check worker's …"; a
			// lookup that kept retrying would end at its timeout
			// with another message.
			_, err = StartStandalone(ctx, wrong, quickstartConnectors(dir), StandaloneOptions{ClusterIDTimeout: time.Minute})
			if err == nil {
				t.Fatal("a wrong password: the worker started")
			}
			if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "Check worker's broker connection and security properties") {
				t.Errorf("a wrong password: %v", err)
			}
			if protocol != "SASL_SSL" {
				return
			}
			// A trust store without the broker's CA: the same, at once.
			other := securitytest.NewCA(t, "other").WriteTruststore(t, t.TempDir(), "other")
			untrusted := withProps(props, map[string]string{"ssl.truststore.location": other})
			_, err = StartStandalone(ctx, untrusted, quickstartConnectors(dir), StandaloneOptions{ClusterIDTimeout: time.Minute})
			var verify *tls.CertificateVerificationError
			if !errors.As(err, &verify) || !strings.Contains(err.Error(), "Check worker's broker connection and security properties") {
				t.Errorf("an untrusted broker certificate: %v", err)
			}
		})
	}
}

// batchCodecs returns the compression codec (attributes & 7) of each
// batch of partition 0 of topic, read with a raw Fetch.
func batchCodecs(t *testing.T, cl *kgo.Client, topic string) []int8 {
	t.Helper()
	ctx := context.Background()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil || !topics.Has(topic) {
		t.Fatalf("topic %s: %v", topic, err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topics[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s: %+v", topic, resp)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("fetch %s: %v", topic, err)
	}
	var codecs []int8
	for raw := p.RecordBatches; len(raw) > 0; {
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(raw); err != nil {
			t.Fatalf("batch of %s: %v", topic, err)
		}
		codecs = append(codecs, int8(batch.Attributes&0x07))
		raw = raw[12+int(batch.Length):]
	}
	return codecs
}

// jsonLine is a line of a file as JsonConverter (schemas enabled) writes
// it.
func jsonLine(s string) []byte {
	return []byte(`{"schema":{"type":"string","optional":false},"payload":"` + s + `"}`)
}

// KIP-458: a connector's producer.override.compression.type reaches its
// producer (its batches are gzip; another connector's are not compressed,
// Kafka's default) and consumer.override.auto.offset.reset reaches its
// consumer (a sink reading from latest never sees what was in the topic
// before; one without the override does). Under the None policy the same
// connector is refused with Kafka's message.
func TestConnectorClientOverrides(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	dir := t.TempDir()
	ctx := context.Background()
	appendFile(t, filepath.Join(dir, "in.txt"), "one\ntwo\n")
	source := func(name, topic string, extra map[string]string) ConnectorSpec {
		return ConnectorSpec{Config: withProps(map[string]string{
			"name": name, "connector.class": "FileStreamSource", "tasks.max": "1",
			"file": filepath.Join(dir, "in.txt"), "topic": topic,
		}, extra)}
	}
	sinkSpec := func(name string, extra map[string]string) ConnectorSpec {
		return ConnectorSpec{Config: withProps(map[string]string{
			"name": name, "connector.class": "FileStreamSink", "tasks.max": "1",
			"file": filepath.Join(dir, name+".txt"), "topics": "late",
		}, extra)}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.DefaultProduceTopic("late"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, s := range []string{"old-1", "old-2"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: jsonLine(s)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	props := workerProps(c, dir)
	w, err := StartStandalone(ctx, props, []ConnectorSpec{
		source("gzip-source", "gzipped", map[string]string{"producer.override.compression.type": "gzip"}),
		source("plain-source", "uncompressed", nil),
		sinkSpec("latest-sink", map[string]string{"consumer.override.auto.offset.reset": "latest"}),
		sinkSpec("earliest-sink", nil),
	}, StandaloneOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)

	for topic, want := range map[string]int8{"gzipped": 1, "uncompressed": 0} {
		var codecs []int8
		eventually(t, "both lines in "+topic, func() bool {
			end, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
			if err != nil {
				return false
			}
			o, ok := end.Lookup(topic, 0)
			return ok && o.Offset == 2
		})
		codecs = batchCodecs(t, cl, topic)
		for _, got := range codecs {
			if got != want {
				t.Errorf("%s: batch codecs %v, want all %d", topic, codecs, want)
				break
			}
		}
	}

	// The latest-sink starts at the end: produce until a new line
	// arrives, then nothing old may be in its file.
	earliest, latest := filepath.Join(dir, "earliest-sink.txt"), filepath.Join(dir, "latest-sink.txt")
	for i := 0; ; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: jsonLine(fmt.Sprintf("new-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if len(readLines(t, latest)) > 0 {
			break
		}
		if i > 1500 {
			t.Fatal("the latest-sink never received a record")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := readLines(t, latest); strings.HasPrefix(got[0], "old") {
		t.Errorf("latest-sink read records from before it started: %q", got)
	}
	eventually(t, "the earliest-sink reading from the start", func() bool {
		got := readLines(t, earliest)
		return len(got) >= 2 && got[0] == "old-1" && got[1] == "old-2"
	})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The None policy refuses every override.
	none := withProps(props, map[string]string{ClientOverridePolicyConfig: "None"})
	_, err = StartStandalone(ctx, none, []ConnectorSpec{
		source("gzip-source-2", "gzipped", map[string]string{"producer.override.compression.type": "gzip"}),
	}, StandaloneOptions{Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "The 'None' policy does not allow 'compression.type' to be overridden in the connector configuration.") {
		t.Errorf("an override under the None policy: %v", err)
	}
}

// A distributed worker against a SASL_PLAINTEXT listener: its internal
// topics' clients, the group membership client, the admin client and the
// tasks' clients all log in with the worker's settings.
func TestDistributedSASL(t *testing.T) {
	t.Parallel()
	b := startSecureBroker(t, "SASL_PLAINTEXT")
	dir := t.TempDir()
	src, sink := filepath.Join(dir, "test.txt"), filepath.Join(dir, "test.sink.txt")
	appendFile(t, src, "foo\nbar\n")
	props := distributedProps(b.c)
	for k, v := range b.client {
		props[k] = v
	}
	w := startDistributed(t, props)
	defer w.Close(context.Background())
	base := w.URL().String()
	for _, spec := range quickstartConnectors(dir) {
		code, body := restUntil(t, http.MethodPost, base+"connectors", map[string]any{"name": spec.Config["name"], "config": spec.Config})
		if code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", spec.Config["name"], code, body)
		}
	}
	eventually(t, "foo and bar in test.sink.txt", func() bool { return equalLines(readLines(t, sink), []string{"foo", "bar"}) })
	eventually(t, "both connectors RUNNING", func() bool {
		return allRunning(connectorStatus(t, base, "local-file-source"), 1) && allRunning(connectorStatus(t, base, "local-file-sink"), 1)
	})
	// The worker group and the internal topics live on the secured
	// cluster.
	adm := kadm.NewClient(b.newClient(t))
	groups, err := adm.DescribeGroups(context.Background(), "connect-cluster")
	if err != nil {
		t.Fatal(err)
	}
	if g := groups["connect-cluster"]; g.ProtocolType != "connect" || len(g.Members) != 1 {
		t.Errorf("worker group: %+v", g)
	}
	topics, err := adm.ListTopics(context.Background(), "connect-configs", "connect-offsets", "connect-status")
	if err != nil || len(topics) != 3 {
		t.Errorf("internal topics: %v %v", topics.Names(), err)
	}
}
