package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/node"
)

func init() {
	register(&Command{
		Name:    "server",
		Summary: "run a Gregor node (kafka-server-start.sh): server [CONFIG] [--override k=v]...",
		Run:     runServer,
	})
}

const serverUsage = `Usage: gregor server [server.properties] [--override property=value]*

Runs a node with the roles in process.roles (broker,controller by default:
a single-node cluster on localhost:9092 with data in /tmp/kafka-logs).
Without a config file, Kafka's defaults apply. Ctrl-C or SIGTERM shuts down
cleanly.`

// runServer runs a node until ctx is cancelled (SIGINT/SIGTERM).
func runServer(ctx context.Context, env *Env, args []string) error {
	var path string
	var overrides []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Fprintln(env.Stdout, serverUsage)
			return nil
		case a == "--override":
			if i+1 >= len(args) {
				return usagef("--override needs property=value")
			}
			overrides = append(overrides, args[i+1])
			i++
		case len(a) > 11 && a[:11] == "--override=":
			overrides = append(overrides, a[11:])
		case len(a) > 0 && a[0] == '-':
			return usagef("unknown option %s\n%s", a, serverUsage)
		case path == "":
			path = a
		default:
			return usagef("unexpected argument %q (only one config file)\n%s", a, serverUsage)
		}
	}
	ov, err := config.ParseOverrides(overrides)
	if err != nil {
		return usagef("%v", err)
	}
	var cfg *config.Broker
	if path != "" {
		cfg, err = config.Load(path, ov)
	} else {
		cfg, err = config.NewBroker(ov)
	}
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	logger := env.Logger.With(slog.Int("node", int(cfg.NodeID)))
	return node.Run(ctx, cfg, node.Options{Logger: logger})
}
