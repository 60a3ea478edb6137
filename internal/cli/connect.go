package cli

// `gregor connect-standalone`: Kafka's bin/connect-standalone.sh, a Kafka
// Connect worker in standalone mode.
//
//	gregor connect-standalone config/connect-standalone.properties \
//	    config/connect-file-source.properties config/connect-file-sink.properties
//
// The first file is the worker's configuration (Kafka's worker property
// names); each further file creates a connector: a .properties file of the
// connector's configuration, or a .json file in POST /connectors' format
// ({"name": ..., "config": {...}}). The worker runs, serving the REST API
// (listeners, default http://:8083), until SIGINT or SIGTERM, then stops
// its tasks cleanly, committing their offsets.
//
// `gregor connect-distributed`: Kafka's bin/connect-distributed.sh, a
// worker of a Kafka Connect cluster.
//
//	gregor connect-distributed config/connect-distributed.properties
//
// Workers with the same group.id form one cluster; connectors are created
// through the REST API of any of them and their state lives in the
// config.storage.topic, offset.storage.topic and status.storage.topic
// topics. SIGINT or SIGTERM stops the worker's tasks cleanly, committing
// their offsets, and leaves the group.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/connect/standalone"
	"github.com/gregor-streaming/gregor/internal/connect"

	// The PostgreSQL connectors (and Confluent's JDBC class names for them).
	_ "github.com/gregor-streaming/gregor/connect/postgres"
)

// distributedUsage is Kafka's ConnectDistributed usage line.
const distributedUsage = "Usage: ConnectDistributed worker.properties"

func init() {
	register(&Command{
		Name:    "connect-standalone",
		Summary: "Run a Kafka Connect worker in standalone mode (connect-standalone.sh).",
		Run:     runConnectStandalone,
	})
	register(&Command{
		Name:    "connect-distributed",
		Summary: "Run a Kafka Connect worker in distributed mode (connect-distributed.sh).",
		Run:     runConnectDistributed,
	})
}

func runConnectDistributed(ctx context.Context, env *Env, args []string) error {
	var files []string
	for _, a := range args {
		switch {
		case a == "-h" || a == "--help" || a == "help":
			fmt.Fprintln(env.Stdout, distributedUsage)
			return nil
		case a == "-daemon":
			return usagef("-daemon is not supported; run the command in the background instead")
		case strings.HasPrefix(a, "-") && a != "-":
			return usagef("unknown option %s\n%s", a, distributedUsage)
		default:
			files = append(files, a)
		}
	}
	if len(files) != 1 {
		fmt.Fprintln(env.Stderr, distributedUsage)
		return usagef("expected exactly one worker.properties")
	}
	props, err := connect.ReadWorkerFile(files[0])
	if err != nil {
		return err
	}
	w, err := connect.StartDistributed(ctx, props, connect.DistributedOptions{Logger: env.Logger})
	if err != nil {
		return err
	}
	// Runs until ctx ends (SIGINT, SIGTERM), then stops cleanly.
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return w.Close(shutdown)
}

func runConnectStandalone(ctx context.Context, env *Env, args []string) error {
	var files []string
	for _, a := range args {
		switch {
		case a == "-h" || a == "--help" || a == "help":
			fmt.Fprintln(env.Stdout, standalone.Usage)
			return nil
		case a == "-daemon":
			return usagef("-daemon is not supported; run the command in the background instead")
		case strings.HasPrefix(a, "-") && a != "-":
			return usagef("unknown option %s\n%s", a, standalone.Usage)
		default:
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, standalone.Usage)
		return usagef("missing worker.properties")
	}
	// Runs until ctx ends (SIGINT, SIGTERM), then stops cleanly.
	return standalone.Run(ctx, files, env.Logger)
}
