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

import (
	"context"
	"fmt"
	"strings"

	"github.com/gregor-streaming/gregor/connect/standalone"

	// The PostgreSQL connectors (and Confluent's JDBC class names for them).
	_ "github.com/gregor-streaming/gregor/connect/postgres"
)

func init() {
	register(&Command{
		Name:    "connect-standalone",
		Summary: "Run a Kafka Connect worker in standalone mode (connect-standalone.sh).",
		Run:     runConnectStandalone,
	})
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
