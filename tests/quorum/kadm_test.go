package quorum

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKadmOnCluster uses franz-go's admin client, seeded with every
// node, as an application would: it finds the active controller through
// Metadata and creates a replicated topic there.
func TestKadmOnCluster(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	leader := waitLeader(t, c, -1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := adm.CreateTopic(ctx, 3, 3, nil, "kadm-topic")
	if err != nil || res.Err != nil || res.NumPartitions != 3 || res.ReplicationFactor != 3 {
		t.Fatalf("CreateTopic: %+v, %v", res, err)
	}
	md, err := adm.Metadata(ctx, "kadm-topic")
	if err != nil {
		t.Fatal(err)
	}
	if md.Controller != leader || len(md.Brokers) != 3 {
		t.Errorf("Metadata: controller %d (want %d), %d brokers", md.Controller, leader, len(md.Brokers))
	}
	td := md.Topics["kadm-topic"]
	if td.Err != nil || len(td.Partitions) != 3 {
		t.Fatalf("topic: %+v", td)
	}
	for _, p := range td.Partitions {
		if len(p.Replicas) != 3 {
			t.Errorf("partition %d replicas %v", p.Partition, p.Replicas)
		}
	}
}
