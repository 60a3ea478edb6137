package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A distributed worker with exactly.once.source.support=enabled runs a
// source task transactionally under <group.id>-<connector>-<task>; the
// offsets store reads connect-offsets read_committed, so after the worker
// is stopped and started again the task resumes right after the last
// committed record.
func TestDistributedExactlyOnceSource(t *testing.T) {
	c := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, "numbers"); err != nil {
		t.Fatal(err)
	}
	props := distributedProps(c)
	props[ExactlyOnceSourceSupportConfig] = "enabled"
	conn := map[string]string{"connector.class": "com.example.test.CounterSourceConnector", "topic": "numbers",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "batch": "2", "limit": "6"}

	w := startDistributed(t, props)
	if code, b := restUntil(t, http.MethodPut, w.URL().String()+"connectors/cnt/config", conn); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	eventually(t, "1…6 committed", func() bool { return len(readCommitted(t, cl, "numbers")) == 6 })
	// COORDINATOR_NOT_AVAILABLE and the like are retriable, as for any
	// client.
	var txns kadm.DescribedTransactions
	eventually(t, "DescribeTransactions", func() bool {
		txns, err = kadm.NewClient(cl).DescribeTransactions(context.Background(), "connect-cluster-cnt-0")
		return err == nil
	})
	if txn, ok := txns["connect-cluster-cnt-0"]; !ok || txn.State == "Dead" {
		t.Fatalf("transactional id connect-cluster-cnt-0: %+v", txns)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	w = startDistributed(t, props)
	defer w.Close(context.Background())
	conn["limit"] = "9"
	if code, b := restUntil(t, http.MethodPut, w.URL().String()+"connectors/cnt/config", conn); code != http.StatusOK {
		t.Fatalf("update: %d %s", code, b)
	}
	eventually(t, "7…9 committed", func() bool { return len(readCommitted(t, cl, "numbers")) >= 9 })
	if got := values(readCommitted(t, cl, "numbers")); fmt.Sprint(got) != fmt.Sprint(seq(1, 9)) {
		t.Fatalf("read_committed numbers %v, want 1…9 once each", got)
	}
	eventually(t, "offsets {n: 9}", func() bool {
		code, b := restCall(t, http.MethodGet, w.URL().String()+"connectors/cnt/offsets", nil)
		var offs ConnectorOffsets
		if code != http.StatusOK || json.Unmarshal(b, &offs) != nil || len(offs.Offsets) != 1 {
			return false
		}
		return offs.Offsets[0].Offset["n"] == float64(9)
	})
}

func TestExactlyOnceSourceConfig(t *testing.T) {
	for v, want := range map[string]bool{"": false, "disabled": false, "preparing": false, "ENABLED": true} {
		e, err := exactlyOnceSourceFor(&DistributedConfig{Config: &Config{Props: map[string]string{ExactlyOnceSourceSupportConfig: v}}, GroupID: "g", OffsetTopic: "o"})
		if err != nil || (e != nil) != want || (e != nil && (e.GroupID != "g" || e.OffsetsTopic != "o")) {
			t.Fatalf("%q: %+v %v", v, e, err)
		}
	}
	if _, err := exactlyOnceSourceFor(&DistributedConfig{Config: &Config{Props: map[string]string{ExactlyOnceSourceSupportConfig: "on"}}}); !errors.Is(err, ErrWorkerConfig) {
		t.Fatalf("on: %v", err)
	}
	if got := transactionalID("connect-cluster", TaskID{"src", 3}); got != "connect-cluster-src-3" {
		t.Fatal(got)
	}
}
