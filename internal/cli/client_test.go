package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/clientconfig"
)

func TestClientOptsApplied(t *testing.T) {
	props := map[string]string{
		"bootstrap.servers":       "ignored:1",
		"client.id":               "tool-1",
		"request.timeout.ms":      "1500",
		"metadata.max.age.ms":     "2000",
		"connections.max.idle.ms": "3000",
		"retries":                 "7",
		"acks":                    "1",
		"linger.ms":               "25",
		"batch.size":              "65536",
		"compression.type":        "zstd",
		"not.a.kafka.config":      "x",
		"group.id":                "consumer-only",
	}
	cl, err := newClient("127.0.0.1:1", props, roleProducer)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, c := range []struct {
		opt  any
		want any
	}{
		{kgo.ClientID, "tool-1"},
		{kgo.RequestTimeoutOverhead, 1500 * time.Millisecond},
		{kgo.ProduceRequestTimeout, 1500 * time.Millisecond},
		{kgo.MetadataMaxAge, 2 * time.Second},
		{kgo.ConnIdleTimeout, 3 * time.Second},
		{kgo.RequestRetries, int64(7)},
		{kgo.ProducerLinger, 25 * time.Millisecond},
		{kgo.ProducerBatchMaxBytes, int32(65536)},
		{kgo.DisableIdempotentWrite, true},
		{kgo.SeedBrokers, []string{"127.0.0.1:1"}},
	} {
		if got := cl.OptValue(c.opt); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%T %v: got %v (%T), want %v", c.opt, c.opt, got, got, c.want)
		}
	}
	_, unknown, err := clientOpts(props, roleProducer)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"group.id", "not.a.kafka.config"}; !reflect.DeepEqual(unknown, want) {
		t.Errorf("unknown = %q, want %q", unknown, want)
	}
}

func TestClientOptsConsumer(t *testing.T) {
	props := map[string]string{
		"group.id":                      "g",
		"group.instance.id":             "i-1",
		"auto.offset.reset":             "earliest",
		"enable.auto.commit":            "false",
		"session.timeout.ms":            "10000",
		"fetch.max.wait.ms":             "100",
		"isolation.level":               "read_committed",
		"partition.assignment.strategy": "org.apache.kafka.clients.consumer.RoundRobinAssignor",
		"acks":                          "all", // producer-only: unknown to a consumer
	}
	cl, err := newClient("127.0.0.1:1", props, roleConsumer)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, c := range []struct {
		opt  any
		want any
	}{
		{kgo.ConsumerGroup, "g"},
		{kgo.InstanceID, "i-1"},
		{kgo.DisableAutoCommit, true},
		{kgo.SessionTimeout, 10 * time.Second},
		{kgo.FetchMaxWait, 100 * time.Millisecond},
	} {
		if got := cl.OptValue(c.opt); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: got %v (%T), want %v", c.opt, got, got, c.want)
		}
	}
	if got := cl.OptValue(kgo.ConsumeResetOffset).(kgo.Offset); got.String() != kgo.NewOffset().AtStart().String() {
		t.Errorf("reset offset = %v", got)
	}
	if got := cl.OptValue(kgo.FetchIsolationLevel); fmt.Sprint(got) != "1" { // read_committed
		t.Errorf("isolation = %v", got)
	}
	_, unknown, _ := clientOpts(props, roleConsumer)
	if !reflect.DeepEqual(unknown, []string{"acks"}) {
		t.Errorf("unknown = %q", unknown)
	}
}

func TestClientOptsErrors(t *testing.T) {
	for _, c := range []struct {
		props map[string]string
		role  clientRole
		want  string
	}{
		{map[string]string{"acks": "2"}, roleProducer, "Invalid value 2 for configuration acks: String must be one of: all, -1, 0, 1"},
		{map[string]string{"linger.ms": "soon"}, roleProducer, "Invalid value soon for configuration linger.ms: Expected value to be a number"},
		{map[string]string{"acks": "0", "enable.idempotence": "true"}, roleProducer, "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence."},
		{map[string]string{"acks": "1", "transactional.id": "t"}, roleProducer, "Cannot set a transactional.id without also enabling idempotence."},
		{map[string]string{"compression.type": "brotli"}, roleProducer, "Invalid value brotli for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd"},
		{map[string]string{"auto.offset.reset": "middle"}, roleConsumer, "Invalid value middle for configuration auto.offset.reset: String must be one of: latest, earliest, none"},
		{map[string]string{"enable.auto.commit": "yes", "group.id": "g"}, roleConsumer, "Invalid value yes for configuration enable.auto.commit: Expected value to be either true or false"},
		{map[string]string{"security.protocol": "KERBEROS"}, roleAdmin, "Invalid value KERBEROS for configuration security.protocol: String must be one of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI"}, roleAdmin, "Invalid value GSSAPI for configuration sasl.mechanism: supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "JCEKS", "ssl.truststore.location": "/x.jceks"}, roleAdmin, "Invalid value JCEKS for configuration ssl.truststore.type: supported key store types: JKS, PKCS12, PEM"},
	} {
		_, _, err := clientOpts(c.props, c.role)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v, want %q", c.props, err, c.want)
		}
	}
	if _, err := newClient("", map[string]string{}, roleAdmin); err == nil {
		t.Error("no bootstrap: want error")
	}
}

func TestClientOptsSASL(t *testing.T) {
	props := map[string]string{
		"security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanism":    "SCRAM-SHA-512",
		"sasl.jaas.config":  `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s\"cret";`,
	}
	cl, err := newClient("127.0.0.1:1", props, roleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	mechs, _ := cl.OptValue(kgo.SASL).([]any)
	if cl.OptValue(kgo.SASL) == nil || (mechs != nil && len(mechs) == 0) {
		t.Errorf("SASL not configured: %v", cl.OptValue(kgo.SASL))
	}
	if u, p := clientconfig.JAASCredentials(props["sasl.jaas.config"]); u != "alice" || p != `s"cret` {
		t.Errorf("jaas = %q %q", u, p)
	}
}

func TestLoadClientProps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "client.properties")
	if err := os.WriteFile(path, []byte("client.id=from-file\nlinger.ms=5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	props, err := loadClientProps(path, "--producer-property", []string{"linger.ms=9", "acks=all"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"client.id": "from-file", "linger.ms": "9", "acks": "all"}; !reflect.DeepEqual(props, want) {
		t.Errorf("props = %v", props)
	}
	if _, err := loadClientProps(filepath.Join(dir, "missing"), "--x", nil); err == nil {
		t.Error("missing file: want error")
	}
	var w bytes.Buffer
	warnUnknownProps(&w, map[string]string{"bogus.key": "1", "client.id": "x", "handled.key": "y"}, roleAdmin, "handled.key")
	if got, want := w.String(), "WARN The configuration 'bogus.key' was supplied but isn't a known config.\n"; got != want {
		t.Errorf("warning = %q, want %q", got, want)
	}
}
