// Command wordcount is Kafka's WordCountDemo on Gregor Streams: it counts
// the words of the lines in quickstart-events and writes each word's
// latest count to output-topic (value: a long, 8 bytes big-endian).
//
//	go run ./examples/wordcount --bootstrap-server localhost:9092
//
// It runs until SIGINT or SIGTERM, then commits and leaves the group.
// `gregor streams wordcount` (bin/gregor-streams-wordcount.sh) is the same
// program; streams/examples/wordcount holds the topology.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/examples/wordcount"
)

func main() {
	bootstrap := flag.String("bootstrap-server", "localhost:9092", "the brokers to connect to, host:port[,host:port...]")
	input := flag.String("input-topic", wordcount.DefaultInputTopic, "the topic of lines to count")
	output := flag.String("output-topic", wordcount.DefaultOutputTopic, "the topic the counts go to")
	appID := flag.String("application-id", wordcount.DefaultApplicationID, "application.id: the group and the internal topics' prefix")
	stateDir := flag.String("state-dir", "", "state.dir (default <tmp>/kafka-streams)")
	guarantee := flag.String("processing-guarantee", string(streams.AtLeastOnce), "at_least_once or exactly_once_v2")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	err := wordcount.Run(ctx, wordcount.Config{
		BootstrapServers: strings.Split(*bootstrap, ","),
		InputTopic:       *input,
		OutputTopic:      *output,
		ApplicationID:    *appID,
		StateDir:         *stateDir,
		Guarantee:        streams.Guarantee(*guarantee),
		Logger:           log,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}
