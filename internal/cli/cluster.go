package cli

// kafka-cluster: Kafka's ClusterTool (KIP-631 cluster-id, KIP-1073
// unregister), asking a broker or a controller about the cluster.
//
//	kafka-cluster cluster-id (--bootstrap-server H:P | --bootstrap-controller H:P) [--config F]
//	    Cluster ID: <id>                           (DescribeCluster, key 60)
//	kafka-cluster unregister (--bootstrap-server H:P | --bootstrap-controller H:P) --id N [--config F]
//	    Broker N is no longer registered.          (UnregisterBroker, key 64)
//
// With --bootstrap-server the broker forwards UnregisterBroker to the
// active controller; with --bootstrap-controller the tool finds the
// active controller (DescribeCluster, endpoint type 2) and asks it. A
// broker that is still running registers again at its next heartbeat;
// unregister is for brokers that are gone for good.

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-cluster",
		Summary: "Get a cluster's id or unregister a broker (kafka-cluster.sh).",
		Run:     runCluster,
	})
}

func runCluster(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-cluster", "The Kafka cluster tool. Commands: cluster-id (get information about the ID of a cluster), unregister (unregister a broker).")
	bootstrap := fs.String("bootstrap-server", "String: server to connect to",
		"A list of host/port pairs to use for establishing the connection to the Kafka cluster.")
	controller := fs.String("bootstrap-controller", "String: controller to connect to",
		"A list of host/port pairs to use for establishing the connection to the KRaft controllers.")
	config := fs.String("config", "String: command config property file",
		"A property file containing configurations for the Admin client.")
	fs.Alias("c", "config")
	id := fs.Int("id", "Integer: broker id", "The ID of the broker to unregister.")
	fs.Alias("i", "id")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) == 0 {
		return usagef("too few arguments: expected one of cluster-id, unregister")
	}
	if len(pos) > 1 {
		return usagef("unrecognized arguments: '%s'", strings.Join(pos[1:], " "))
	}
	cmd := pos[0]
	if cmd != "cluster-id" && cmd != "unregister" {
		return usagef("argument command: invalid choice: '%s' (choose from 'cluster-id', 'unregister')", cmd)
	}
	if len(fs.Given("bootstrap-server", "bootstrap-controller")) != 1 {
		return usagef("one of --bootstrap-server or --bootstrap-controller must be specified")
	}
	if cmd == "unregister" && !fs.Changed("id") {
		return usagef("argument --id/-i is required")
	}
	props, err := loadClientProps(*config, "--config", nil)
	if err != nil {
		return err
	}
	warnUnknownProps(env.Stderr, props, roleAdmin)

	endpointType := int8(0)
	addr := *bootstrap
	if fs.Changed("bootstrap-controller") {
		endpointType, addr = endpointTypeController, *controller
	}
	cl, err := newClient(addr, props, roleAdmin)
	if err != nil {
		return err
	}
	defer cl.Close()
	// A controller answers DescribeCluster only for endpoint type 2, and
	// only the active controller decides: ask it directly.
	do := cl.Request
	var clusterID string
	var active int32
	var addrs map[int32]string
	var lastErr error
	for _, b := range cl.SeedBrokers() {
		if clusterID, active, addrs, lastErr = describeClusterVia(ctx, b.Request, endpointType); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		return lastErr
	}
	if cmd == "cluster-id" {
		fmt.Fprintf(env.Stdout, "Cluster ID: %s\n", clusterID)
		return nil
	}
	if endpointType == endpointTypeController {
		a, ok := addrs[active]
		if !ok {
			return fmt.Errorf("the controllers at %s know no active controller", addr)
		}
		ccl, err := newClient(a, props, roleAdmin)
		if err != nil {
			return err
		}
		defer ccl.Close()
		do = ccl.SeedBrokers()[0].Request
	}
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = int32(*id)
	r, err := do(ctx, req)
	if err != nil {
		return err
	}
	resp := r.(*kmsg.UnregisterBrokerResponse)
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Broker %d is no longer registered.\n", *id)
	return nil
}

// endpointTypeController is DescribeCluster's endpoint_type of
// controllers (KIP-919).
const endpointTypeController = 2
