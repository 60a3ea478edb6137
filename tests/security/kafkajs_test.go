package security

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// requireKafkajs returns node's path, the directory of sasl.js and the
// NODE_PATH that finds kafkajs (installed into tests/compat/kafkajs by
// scripts/install-test-deps.sh). Missing clients fail the test; they
// skip it only with GREGOR_COMPAT_OPTIONAL=1 outside CI (CI=true).
func requireKafkajs(t *testing.T) (node, dir, nodePath string) {
	t.Helper()
	dir, err := filepath.Abs("kafkajs")
	if err != nil {
		t.Fatal(err)
	}
	nodePath = filepath.Join(dir, "..", "..", "compat", "kafkajs", "node_modules")
	node, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(nodePath, "kafkajs", "package.json"))
	}
	if err != nil {
		msg := fmt.Sprintf("node or kafkajs is not installed (%v); run scripts/install-test-deps.sh (as root)", err)
		if os.Getenv("GREGOR_COMPAT_OPTIONAL") == "1" && os.Getenv("CI") != "true" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	return node, dir, nodePath
}

// kafkajs runs sasl.js with args and returns its stdout, failing t with
// its output when it exits non-zero.
func kafkajs(t *testing.T, args ...string) string {
	t.Helper()
	node, dir, nodePath := requireKafkajs(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"sasl.js"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "KAFKAJS_NO_PARTITIONER_WARNING=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node sasl.js %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// kafkajs 2.x (the Node.js client, which implements SASL PLAIN and
// SCRAM itself) over SASL_PLAINTEXT and SASL_SSL with PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512: its admin client creates a topic,
// its producer writes, a consumer group reads everything back and
// commits; a wrong password fails with KafkaJSSASLAuthenticationError
// and the broker logs the failure with the client's address.
func TestKafkajsSASL(t *testing.T) {
	t.Parallel()
	requireKafkajs(t)
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", nil)
	addScramUsers(t, b)
	adm := kadm.NewClient(client(t, b.addrs["PLAINTEXT"]))
	const n = 30
	for _, tc := range []struct{ listener, mech, user, pass string }{
		{"SASL_PLAINTEXT", "PLAIN", "alice", "alice-secret"},
		{"SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "alice-scram"},
		{"SASL_PLAINTEXT", "SCRAM-SHA-512", "bob", "bob-scram"},
		{"SASL_SSL", "PLAIN", "alice", "alice-secret"},
		{"SASL_SSL", "SCRAM-SHA-256", "alice", "alice-scram"},
		{"SASL_SSL", "SCRAM-SHA-512", "bob", "bob-scram"},
	} {
		t.Run(tc.listener+"/"+tc.mech, func(t *testing.T) {
			t.Parallel()
			ca := "-"
			if tc.listener == "SASL_SSL" {
				ca = p.truststore
			}
			name := "js-" + strings.ToLower(tc.listener+"-"+tc.mech)
			out := kafkajs(t, "roundtrip", b.addrs[tc.listener], strings.ToLower(tc.mech), tc.user, tc.pass, ca, name, name+"-group", fmt.Sprint(n))
			var res struct {
				Sent      int      `json:"sent"`
				Values    []string `json:"values"`
				Committed []struct {
					Partition int32 `json:"partition"`
					Offset    int64 `json:"offset"`
				} `json:"committed"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("sasl.js printed bad JSON: %v\n%s", err, out)
			}
			var want []string
			for i := range n {
				want = append(want, fmt.Sprintf("v%d", i))
			}
			got := slices.Clone(res.Values)
			slices.SortFunc(got, func(a, b string) int { return cmpNum(a) - cmpNum(b) })
			if !slices.Equal(got, want) {
				t.Errorf("kafkajs consumed %v, want v0…v%d once each", res.Values, n-1)
			}
			// The group's offsets, as kafkajs and franz-go (over
			// PLAINTEXT) see them, cover every record.
			var sum int64
			for _, c := range res.Committed {
				sum += c.Offset
			}
			if len(res.Committed) != 3 || sum != n {
				t.Errorf("kafkajs fetchOffsets: %+v, want 3 partitions adding up to %d", res.Committed, n)
			}
			offs, err := adm.FetchOffsets(ctxT(t), name+"-group")
			if err != nil {
				t.Fatal(err)
			}
			sum = 0
			offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
			if sum != n {
				t.Errorf("committed offsets of %s-group add up to %d, want %d: %+v", name, sum, n, offs)
			}
			ends, err := adm.ListEndOffsets(ctxT(t), name)
			if err != nil {
				t.Fatal(err)
			}
			sum = 0
			ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
			if sum != n {
				t.Errorf("%s holds %d records, want %d", name, sum, n)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		for _, tc := range []struct{ listener, mech, user string }{
			{"SASL_PLAINTEXT", "PLAIN", "alice"},
			{"SASL_SSL", "SCRAM-SHA-256", "alice"},
			{"SASL_PLAINTEXT", "SCRAM-SHA-512", "bob"},
		} {
			before := b.logs.count("failed authentication", "remote=127.0.0.1:", "mechanism="+tc.mech)
			ca := "-"
			if tc.listener == "SASL_SSL" {
				ca = p.truststore
			}
			out := kafkajs(t, "badauth", b.addrs[tc.listener], strings.ToLower(tc.mech), tc.user, "wrong", ca)
			var res struct{ Name, Message string }
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("sasl.js printed bad JSON: %v\n%s", err, out)
			}
			if res.Name != "KafkaJSSASLAuthenticationError" || !strings.Contains(res.Message, "Authentication failed") {
				t.Errorf("%+v: kafkajs got %s: %s; want KafkaJSSASLAuthenticationError", tc, res.Name, res.Message)
			}
			if after := b.logs.count("failed authentication", "remote=127.0.0.1:", "mechanism="+tc.mech); after <= before {
				t.Errorf("%+v: the failure was not logged with the client address:\n%s", tc, tail(b.logs.String()))
			}
		}
	})
}

// cmpNum orders "v<n>" values by n.
func cmpNum(v string) int {
	var n int
	fmt.Sscanf(v, "v%d", &n)
	return n
}
