package config

import "testing"

// TestSingleNode: the README's run command uses config/server.properties,
// Kafka's standalone sample, whose controller.quorum.bootstrap.servers
// names only the node itself; it must run as a single node (in-process
// controller, self-formatting), while a real quorum must not.
func TestSingleNode(t *testing.T) {
	sample, err := Load("../../config/server.properties", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sample.SingleNode() {
		t.Fatal("config/server.properties is not a single node")
	}
	base := map[string]string{
		"process.roles":             "broker,controller",
		"node.id":                   "1",
		"listeners":                 "PLAINTEXT://:9092,CONTROLLER://:9093",
		"controller.listener.names": "CONTROLLER",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  bool
	}{
		{"no quorum", map[string]string{"process.roles": "broker,controller"}, true},
		{"bootstrap is self", with("controller.quorum.bootstrap.servers", "localhost:9093"), true},
		{"bootstrap is another node", with("controller.quorum.bootstrap.servers", "otherhost:9093"), false},
		{"bootstrap on another port", with("controller.quorum.bootstrap.servers", "localhost:9095"), false},
		{"voters", with("controller.quorum.voters", "1@localhost:9093"), false},
	} {
		b, err := NewBroker(tc.props)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := b.SingleNode(); got != tc.want {
			t.Errorf("%s: SingleNode() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
