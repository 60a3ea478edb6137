package connect

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/security/securitytest"
	"github.com/gregor-streaming/gregor/internal/testproc"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// `gregor connect-standalone` against a broker whose only listener is
// SASL_SSL: the worker properties file carries Kafka's client security
// settings once (PLAIN, a PEM trust store) and Kafka's quickstart runs
// through it; with a wrong password the process exits at start with
// Kafka's "Check worker's broker connection and security properties".
func TestStandaloneSASLSSL(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	keystore := ca.Issue(t, "CN=broker", "127.0.0.1", "localhost").WriteKeystore(t, dir, "broker")
	truststore := ca.WriteTruststore(t, dir, "ca")
	c := kafkatest.Start(t,
		kafkatest.Config("group.initial.rebalance.delay.ms", "0"),
		kafkatest.Config("listeners", "SASL_SSL://127.0.0.1:0"),
		kafkatest.Config("inter.broker.listener.name", "SASL_SSL"),
		kafkatest.Config("ssl.keystore.type", "PEM"),
		kafkatest.Config("ssl.keystore.location", keystore),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name.sasl_ssl.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_connect="connect-secret";`),
	)
	src, sink := filepath.Join(dir, "test.txt"), filepath.Join(dir, "test.sink.txt")
	if err := os.WriteFile(src, []byte("foo\nbar\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	workerProps := func(name, password string) string {
		return write(name, fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename=%s
offset.flush.interval.ms=100
listeners=http://127.0.0.1:0
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
  username="connect" password="%s";
ssl.truststore.type=PEM
ssl.truststore.location=%s
`, c.Addr(), filepath.Join(dir, name+".offsets"), password, truststore))
	}
	source := write("source.properties", "name=local-file-source\nconnector.class=FileStreamSource\ntasks.max=1\ntopic=connect-test\nfile="+src+"\n")
	sinkProps := write("sink.properties", "name=local-file-sink\nconnector.class=FileStreamSink\ntasks.max=1\ntopics=connect-test\nfile="+sink+"\n")

	w := startStandaloneWorker(t, workerProps("worker.properties", "connect-secret"), source, sinkProps)
	eventually(t, "foo and bar in test.sink.txt", func() bool { return len(missing(sink, []string{"foo", "bar"})) == 0 })
	if !w.Stop(bound) {
		t.Error("worker did not stop on SIGTERM")
	}

	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	out, err := exec.CommandContext(ctx, gregorBin, "connect-standalone", workerProps("wrong.properties", "wrong"), source, sinkProps).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("a wrong password: the worker kept trying:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "Check worker's broker connection and security properties") {
		t.Fatalf("a wrong password: %v\n%s", err, out)
	}
}

// startStandaloneWorker starts `gregor connect-standalone` with the
// worker properties file and connector files and waits for its REST API.
// Cleanup stops it and fails the test on a race report.
func startStandaloneWorker(t *testing.T, props string, connectors ...string) *worker {
	t.Helper()
	w := &worker{}
	args := append([]string{"connect-standalone", props}, connectors...)
	w.Process = testproc.Start(t, "standalone", exec.Command(gregorBin, args...), func(line string) bool {
		if m := startedRE.FindStringSubmatch(line); m != nil {
			w.url = m[1]
			return true
		}
		return false
	})
	t.Cleanup(func() {
		w.Stop(bound)
		for _, l := range w.Lines() {
			if strings.Contains(l, "DATA RACE") {
				t.Errorf("race in the standalone worker:\n%s", strings.Join(w.Lines(), "\n"))
				break
			}
		}
	})
	select {
	case <-w.Ready():
	case <-w.Done():
		t.Fatalf("worker exited at start:\n%s", strings.Join(w.Lines(), "\n"))
	case <-time.After(bound):
		t.Fatalf("worker did not start:\n%s", strings.Join(w.Lines(), "\n"))
	}
	return w
}
