package cli

import (
	"strings"
	"testing"
)

// TestClusterToolUsage checks kafka-cluster's argument errors; the
// commands themselves run against a cluster in tests/quorum.
func TestClusterToolUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"kafka-cluster", "--bootstrap-server", "h:1"}, "expected one of cluster-id, unregister"},
		{[]string{"kafka-cluster", "nope", "--bootstrap-server", "h:1"}, "invalid choice: 'nope'"},
		{[]string{"kafka-cluster", "cluster-id"}, "one of --bootstrap-server or --bootstrap-controller"},
		{[]string{"kafka-cluster", "cluster-id", "--bootstrap-server", "h:1", "--bootstrap-controller", "h:2"}, "one of --bootstrap-server or --bootstrap-controller"},
		{[]string{"kafka-cluster", "unregister", "--bootstrap-server", "h:1"}, "--id/-i is required"},
		{[]string{"kafka-cluster", "cluster-id", "extra", "--bootstrap-server", "h:1"}, "unrecognized arguments: 'extra'"},
	} {
		r := runTool(t, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
