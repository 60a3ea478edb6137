package connect

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// Kafka's DistributedConfig.ExactlyOnceSourceSupport: PREPARING and
// ENABLED use a transactional leader, DISABLED does not.
func TestUsesFencableWriter(t *testing.T) {
	for v, want := range map[string]bool{"": false, "disabled": false, "preparing": true, "PREPARING": true, "enabled": true} {
		cfg := &DistributedConfig{Config: &Config{Props: map[string]string{ExactlyOnceSourceSupportConfig: v}}, GroupID: "g"}
		if got := usesFencableWriter(cfg); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
	if got := TransactionalProducerID("connect-cluster"); got != "connect-cluster-connect-cluster" {
		t.Fatal(got)
	}
}

// configRecords returns the config topic's records that a read_committed
// consumer sees, by key (the last one of each key).
func configRecords(t *testing.T, cl *kgo.Client, topic string) map[string]*kgo.Record {
	t.Helper()
	out := map[string]*kgo.Record{}
	for _, r := range readCommitted(t, cl, topic) {
		out[string(r.Key)] = r
	}
	return out
}

// fenceConfigWriter initializes a producer with the leader's
// transactional.id, as a new leader's claim does, and returns it.
func fenceConfigWriter(t *testing.T, c *kafkatest.Cluster, groupID string) *kgo.Client {
	t.Helper()
	zombieKiller, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.TransactionalID(TransactionalProducerID(groupID)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zombieKiller.Close)
	if _, _, err := zombieKiller.ProducerID(context.Background()); err != nil {
		t.Fatal(err)
	}
	return zombieKiller
}

func openConfigStore(t *testing.T, c *kafkatest.Cluster, group, eos string) *KafkaConfigStore {
	t.Helper()
	props := distributedProps(c)
	props[GroupIDConfig] = group
	props[ConfigTopicConfig] = group + "-configs"
	props[OffsetTopicConfig] = group + "-offsets"
	props[StatusTopicConfig] = group + "-status"
	if eos != "" {
		props[ExactlyOnceSourceSupportConfig] = eos
	}
	cfg, err := ParseDistributedConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := OpenKafkaConfigStore(context.Background(), cfg, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// The config store's privileged writes (KIP-618; Kafka's
// KafkaConfigBackingStoreTest.testFencableProducerPropertiesInsertedByDefault
// and testWritePrivileges): with exactly-once source support they need
// claimed write privileges and go in transactions; a fenced writer's write
// fails with Kafka's message, lands nowhere, and the next one fails until
// the privileges are claimed again; target states are written by anyone.
// Without exactly-once support nothing changes.
func TestConfigStoreFencableWriter(t *testing.T) {
	c := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	conn := map[string]string{"connector.class": "FileStreamSource", "topic": "t"}

	t.Run("enabled", func(t *testing.T) {
		s := openConfigStore(t, c, "eos", "enabled")
		if !s.UsesFencableWriter() || s.HasWritePrivileges() {
			t.Fatalf("fencable %v, privileges %v before the claim", s.UsesFencableWriter(), s.HasWritePrivileges())
		}
		if err := s.PutConnectorConfig("a", conn, TargetStarted); !errors.Is(err, ErrNoWritePrivileges) {
			t.Fatalf("write before the claim: %v", err)
		}
		if err := s.ClaimWritePrivileges(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.PutConnectorConfig("a", conn, TargetStarted); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTaskCountRecord("a", 1); err != nil {
			t.Fatal(err)
		}
		recs := configRecords(t, cl, "eos-configs")
		for _, k := range []string{"connector-a", "target-state-a", "tasks-fencing-a"} {
			if r, ok := recs[k]; !ok || !r.Attrs.IsTransactional() {
				t.Fatalf("%s: %+v, want a committed transactional record", k, r)
			}
		}
		var txns kadm.DescribedTransactions
		eventually(t, "DescribeTransactions", func() bool {
			txns, err = kadm.NewClient(cl).DescribeTransactions(context.Background(), "connect-cluster-eos")
			return err == nil
		})
		if txn, ok := txns["connect-cluster-eos"]; !ok || txn.State == "Dead" {
			t.Fatalf("transactional id connect-cluster-eos: %+v", txns)
		}

		fenceConfigWriter(t, c, "eos") // a new leader claims
		err := s.PutConnectorConfig("b", conn, TargetStarted)
		if !errors.Is(err, ErrPrivilegedWrite) || err.Error() != msgPrivilegedWriteFailed || httpStatus(err) != http.StatusInternalServerError {
			t.Fatalf("write of a fenced leader: %v", err)
		}
		if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
			t.Fatalf("write of a fenced leader failed with %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH underneath", errors.Unwrap(err))
		}
		if s.HasWritePrivileges() {
			t.Fatal("privileges held after being fenced")
		}
		if err := s.PutRestartRequest(RestartRequest{Connector: "a"}); !errors.Is(err, ErrNoWritePrivileges) {
			t.Fatalf("write after being fenced: %v", err)
		}
		if err := s.PutTargetState("a", TargetPaused); err != nil { // anyone's
			t.Fatal(err)
		}
		recs = configRecords(t, cl, "eos-configs")
		if _, ok := recs["connector-b"]; ok {
			t.Fatal("the fenced leader's connector-b reached the config topic")
		}
		if r := recs["target-state-a"]; r == nil || r.Attrs.IsTransactional() || !strings.Contains(string(r.Value), "PAUSED") {
			t.Fatalf("target-state-a: %+v", r)
		}
		if _, ok := s.Snapshot()["b"]; ok {
			t.Fatal("the store applied the aborted connector-b")
		}

		if err := s.ClaimWritePrivileges(context.Background()); err != nil { // reclaim
			t.Fatal(err)
		}
		if err := s.PutConnectorConfig("b", conn, TargetStarted); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Snapshot()["b"]; !ok {
			t.Fatal("connector b missing after the reclaim")
		}
	})

	t.Run("disabled", func(t *testing.T) {
		s := openConfigStore(t, c, "plain", "")
		if s.UsesFencableWriter() || !s.HasWritePrivileges() {
			t.Fatalf("fencable %v, privileges %v", s.UsesFencableWriter(), s.HasWritePrivileges())
		}
		if err := s.ClaimWritePrivileges(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.PutConnectorConfig("a", conn, TargetStarted); err != nil {
			t.Fatal(err)
		}
		if r, ok := configRecords(t, cl, "plain-configs")["connector-a"]; !ok || r.Attrs.IsTransactional() {
			t.Fatalf("connector-a: %+v, want a plain record", r)
		}
		txns, err := kadm.NewClient(cl).DescribeTransactions(context.Background(), "connect-cluster-plain")
		if txn, ok := txns["connect-cluster-plain"]; err == nil && ok {
			err = txn.Err
		}
		if !errors.Is(err, kerr.TransactionalIDNotFound) {
			t.Fatalf("DescribeTransactions connect-cluster-plain: %v, want TRANSACTIONAL_ID_NOT_FOUND", err)
		}
	})
}

// A distributed leader with exactly-once source support writes
// connectors through its transactional producer; fenced by another
// producer of its transactional.id (a newer leader), its next write
// answers Kafka's 500 and lands nowhere; as it still leads, it reclaims
// the privileges and a retried request succeeds (Kafka's
// DistributedHerder fencedFromConfigTopic handling).
func TestDistributedLeaderFencedFromConfigTopic(t *testing.T) {
	c := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	props := distributedProps(c)
	props[ExactlyOnceSourceSupportConfig] = "enabled"
	w := startDistributed(t, props)
	defer w.Close(context.Background())
	conn := map[string]string{"connector.class": "FileStreamSink", "topics": "t", "file": t.TempDir() + "/sink.txt"}
	if code, b := restUntil(t, http.MethodPut, w.URL().String()+"connectors/a/config", conn); code != http.StatusCreated {
		t.Fatalf("create a: %d %s", code, b)
	}
	if r, ok := configRecords(t, cl, "connect-configs")["connector-a"]; !ok || !r.Attrs.IsTransactional() {
		t.Fatalf("connector-a: %+v, want a committed transactional record", r)
	}

	fenceConfigWriter(t, c, "connect-cluster")
	code, b := restUntil(t, http.MethodPut, w.URL().String()+"connectors/b/config", conn)
	if code != http.StatusInternalServerError || !strings.Contains(string(b), msgPrivilegedWriteFailed) {
		t.Fatalf("create b on a fenced leader: %d %s", code, b)
	}
	if _, ok := configRecords(t, cl, "connect-configs")["connector-b"]; ok {
		t.Fatal("the fenced leader's connector-b reached the config topic")
	}
	eventually(t, "the leader reclaims its write privileges", func() bool {
		code, b = restCall(t, http.MethodPut, w.URL().String()+"connectors/b/config", conn)
		return code == http.StatusCreated
	})
	if r, ok := configRecords(t, cl, "connect-configs")["connector-b"]; !ok || !r.Attrs.IsTransactional() {
		t.Fatalf("connector-b: %+v", r)
	}
}
