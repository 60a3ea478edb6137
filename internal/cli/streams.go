package cli

// `gregor streams APP`: Gregor Streams applications that ship with
// gregor, as Kafka ships its streams examples (run with
// bin/kafka-run-class.sh org.apache.kafka.streams.examples...).
//
//	gregor streams wordcount --bootstrap-server localhost:9092
//
// The application runs until SIGINT or SIGTERM (ctx), then closes
// cleanly: it commits what it processed and leaves its group.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/examples/wordcount"
)

func init() {
	register(&Command{
		Name:    "streams",
		Summary: "Run a Gregor Streams example application (wordcount).",
		Run:     runStreams,
	})
}

// streamsApps are the applications `gregor streams` runs, by name.
var streamsApps = map[string]func(ctx context.Context, env *Env, args []string) error{
	"wordcount": runWordCount,
}

func runStreams(ctx context.Context, env *Env, args []string) error {
	names := make([]string, 0, len(streamsApps))
	for n := range streamsApps {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintf(env.Stdout, "Usage: gregor streams <application> [options]\n\nApplications: %s\nRun 'gregor streams <application> --help' for its options.\n", strings.Join(names, ", "))
		if len(args) == 0 {
			return usagef("missing application (one of: %s)", strings.Join(names, ", "))
		}
		return nil
	}
	run, ok := streamsApps[args[0]]
	if !ok {
		return usagef("unknown application %q (one of: %s)", args[0], strings.Join(names, ", "))
	}
	return run(ctx, env, args[1:])
}

func runWordCount(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("streams wordcount",
		"Count the words of the lines in a topic and write each word's latest count (a long) to another topic: Kafka's WordCountDemo.")
	bootstrap := fs.String("bootstrap-server", "server to connect to", "REQUIRED: The Kafka server to connect to.")
	input := fs.StringDefault("input-topic", "topic", wordcount.DefaultInputTopic, "The topic to read lines from.")
	output := fs.StringDefault("output-topic", "topic", wordcount.DefaultOutputTopic, "The topic to write counts to.")
	appID := fs.StringDefault("application-id", "id", wordcount.DefaultApplicationID, "The application.id: consumer group and prefix of the internal topics.")
	stateDir := fs.String("state-dir", "dir", "The state.dir for the local state stores (default: <tmp>/kafka-streams).")
	guarantee := fs.StringDefault("processing-guarantee", "guarantee", string(streams.AtLeastOnce), "at_least_once or exactly_once_v2.")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if !fs.Changed("bootstrap-server") {
		return usagef("missing required argument \"[bootstrap-server]\"")
	}
	if len(fs.Args()) > 0 {
		return usagef("unexpected argument %q", fs.Args()[0])
	}
	g := streams.Guarantee(*guarantee)
	if g != streams.AtLeastOnce && g != streams.ExactlyOnceV2 {
		return usagef("--processing-guarantee must be %s or %s", streams.AtLeastOnce, streams.ExactlyOnceV2)
	}
	fmt.Fprintf(env.Stderr, "WordCount: counting the words of %s into %s (application.id %s); stop with Ctrl-C.\n", *input, *output, *appID)
	err := wordcount.Run(ctx, wordcount.Config{
		BootstrapServers: splitBootstrap(*bootstrap),
		InputTopic:       *input,
		OutputTopic:      *output,
		ApplicationID:    *appID,
		StateDir:         *stateDir,
		Guarantee:        g,
		Logger:           env.Logger,
	})
	if errors.Is(err, streams.ErrMissingSourceTopic) {
		return fmt.Errorf("%w (create it first: bin/kafka-topics.sh --create --topic %s --bootstrap-server %s)", err, *input, *bootstrap)
	}
	return err
}
