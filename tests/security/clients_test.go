package security

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// python is the interpreter the Debian packages install into.
const python = "/usr/bin/python3"

// librdkafka (through kcat) authenticates with each mechanism over
// SASL_SSL and SASL_PLAINTEXT, produces and consumes; a wrong password
// fails.
func TestKcat(t *testing.T) {
	t.Parallel()
	kcat := requireTool(t, "kcat", "-V")
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", nil)
	addScramUsers(t, b)
	for i, tc := range []struct{ listener, mech, user, pass string }{
		{"SASL_SSL", "SCRAM-SHA-256", "alice", "alice-scram"},
		{"SASL_SSL", "SCRAM-SHA-512", "bob", "bob-scram"},
		{"SASL_SSL", "PLAIN", "alice", "alice-secret"},
		{"SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "alice-scram"},
	} {
		args := []string{"-b", b.addrs[tc.listener], "-X", "security.protocol=" + tc.listener,
			"-X", "sasl.mechanisms=" + tc.mech, "-X", "sasl.username=" + tc.user, "-X", "sasl.password=" + tc.pass}
		if tc.listener == "SASL_SSL" {
			args = append(args, "-X", "ssl.ca.location="+p.truststore)
		}
		topic := fmt.Sprintf("kcat-%d", i)
		if _, err := kadm.NewClient(client(t, b.addrs["PLAINTEXT"])).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		run(t, "one\ntwo\nthree\n", kcat, append(args, "-P", "-t", topic)...)
		got := run(t, "", kcat, append(args, "-C", "-t", topic, "-o", "beginning", "-e", "-q")...)
		if got != "one\ntwo\nthree\n" {
			t.Errorf("%+v: consumed %q", tc, got)
		}
	}
	// A wrong password: librdkafka reports the broker's error.
	out, err := runErr(kcat, "-b", b.addrs["SASL_SSL"], "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+p.truststore,
		"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=alice", "-X", "sasl.password=wrong", "-L", "-m", "5")
	if err == nil || !strings.Contains(out, "Authentication failed") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
}

// confluent-kafka-python (librdkafka) over SASL_SSL with SCRAM-SHA-512:
// the AdminClient creates a topic, a Producer writes and a Consumer reads.
func TestConfluentKafkaPython(t *testing.T) {
	t.Parallel()
	requireTool(t, python, "-c", "import confluent_kafka")
	p := newPKI(t)
	b := saslBroker(t, p, "SCRAM-SHA-512,PLAIN", nil)
	addScramUsers(t, b)
	script := filepath.Join(t.TempDir(), "sasl.py")
	if err := os.WriteFile(script, []byte(confluentScript), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, "", python, script, b.addrs["SASL_SSL"], p.truststore, "bob", "bob-scram")
	var res struct {
		Values []string `json:"values"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bad output %q: %v", out, err)
	}
	if len(res.Values) != 20 || res.Values[0] != "v0" || res.Values[19] != "v19" {
		t.Errorf("consumed %v (errors %v)", res.Values, res.Errors)
	}
	// A wrong password fails the admin client's request.
	out = run(t, "", python, script, b.addrs["SASL_SSL"], p.truststore, "bob", "wrong", "expect-failure")
	if !strings.Contains(out, "Authentication failed") {
		t.Errorf("wrong password: %s", out)
	}
}

const confluentScript = `
import json, sys, time
from confluent_kafka import Producer, Consumer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

broker, ca, user, password = sys.argv[1:5]
conf = {
    "bootstrap.servers": broker,
    "security.protocol": "SASL_SSL",
    "sasl.mechanisms": "SCRAM-SHA-512",
    "sasl.username": user,
    "sasl.password": password,
    "ssl.ca.location": ca,
}
errors = []
def on_error(err):
    errors.append(str(err))
if len(sys.argv) > 5 and sys.argv[5] == "expect-failure":
    # Wait for librdkafka to report the authentication failure.
    p = Producer(dict(conf, error_cb=on_error))
    deadline = time.time() + 20
    while not errors and time.time() < deadline:
        p.poll(0.2)
    print(json.dumps({"values": [], "errors": errors}))
    sys.exit(0)
admin = AdminClient(dict(conf, error_cb=on_error))
try:
    for f in admin.create_topics([NewTopic("py-sasl", 1, 1)], request_timeout=20).values():
        f.result()
except Exception as e:
    print(json.dumps({"values": [], "errors": errors + [str(e)]}))
    sys.exit(0)
p = Producer(dict(conf, error_cb=on_error))
for i in range(20):
    p.produce("py-sasl", value=("v%d" % i).encode())
p.flush(20)
c = Consumer(dict(conf, **{"group.id": "py-sasl", "enable.auto.commit": False, "error_cb": on_error}))
c.assign([TopicPartition("py-sasl", 0, OFFSET_BEGINNING)])
values = []
deadline = time.time() + 30
while len(values) < 20 and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    values.append(m.value().decode())
c.close()
print(json.dumps({"values": values, "errors": errors}))
`
