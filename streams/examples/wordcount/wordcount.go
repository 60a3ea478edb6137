// Package wordcount is Kafka's WordCountDemo on Gregor Streams: it reads
// lines of text, splits them into lower-case words, counts each word and
// writes every new count to the output topic, keyed by the word, as an
// 8-byte big-endian long (what Kafka's LongDeserializer reads).
//
//	quickstart-events ─▶ flatMapValues(words) ─▶ groupBy(word)
//	   ─▶ <app>-counts-store-repartition ─▶ count(counts-store) ─▶ output-topic
//
// `gregor streams wordcount` and examples/wordcount run it.
package wordcount

import (
	"context"
	"log/slog"
	"regexp"
	"strings"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
)

// Defaults of the demo, as in Kafka's quickstart.
const (
	DefaultInputTopic    = "quickstart-events"
	DefaultOutputTopic   = "output-topic"
	DefaultApplicationID = "wordcount"
	// StoreName is the counts' store, so the changelog is
	// <application.id>-counts-store-changelog.
	StoreName = "counts-store"
)

// nonWord splits as Java's split("\\W+") does (\W is ASCII in both).
var nonWord = regexp.MustCompile(`\W+`)

// Words returns the lower-case words of line, without empty strings.
func Words(line string) []string {
	var out []string
	for _, w := range nonWord.Split(strings.ToLower(line), -1) {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// Build adds the WordCount topology, from input to output, to b.
func Build(b *streams.Builder, input, output string) {
	lines := streams.Stream(b, input, serde.String(), serde.String())
	words := streams.FlatMapValues(lines, func(_ string, line string) []string { return Words(line) })
	counts := streams.GroupBy(words, func(_ string, word string) string { return word }).
		Count(streams.As(StoreName))
	counts.ToStream().To(output, streams.WithValueSerde(serde.Int64()))
}

// Topology returns the WordCount topology.
func Topology(input, output string) (*streams.Topology, error) {
	b := streams.NewBuilder()
	Build(b, input, output)
	return b.Build()
}

// Config is what Run needs.
type Config struct {
	// BootstrapServers are the host:port seeds (required).
	BootstrapServers []string
	// InputTopic, OutputTopic and ApplicationID default to the
	// Default constants.
	InputTopic, OutputTopic, ApplicationID string
	// StateDir is state.dir ("": Kafka's default, <tmp>/kafka-streams).
	StateDir string
	// Guarantee is processing.guarantee ("": at_least_once).
	Guarantee streams.Guarantee
	// Logger receives the application's logs (nil: slog.Default()).
	Logger *slog.Logger
}

// Run runs WordCount until ctx ends, then closes it cleanly (committing
// what it processed). It returns the error that stopped it, if any, such
// as streams.ErrMissingSourceTopic when the input topic does not exist.
func Run(ctx context.Context, c Config, extra ...streams.Opt) error {
	if c.InputTopic == "" {
		c.InputTopic = DefaultInputTopic
	}
	if c.OutputTopic == "" {
		c.OutputTopic = DefaultOutputTopic
	}
	if c.ApplicationID == "" {
		c.ApplicationID = DefaultApplicationID
	}
	if c.Guarantee == "" {
		c.Guarantee = streams.AtLeastOnce
	}
	topo, err := Topology(c.InputTopic, c.OutputTopic)
	if err != nil {
		return err
	}
	opts := []streams.Opt{
		streams.ApplicationID(c.ApplicationID),
		streams.BootstrapServers(c.BootstrapServers...),
		streams.ProcessingGuarantee(c.Guarantee),
	}
	if c.StateDir != "" {
		opts = append(opts, streams.StateDir(c.StateDir))
	}
	if c.Logger != nil {
		opts = append(opts, streams.Logger(c.Logger))
	}
	app, err := streams.New(topo, append(opts, extra...)...)
	if err != nil {
		return err
	}
	return app.Run(ctx)
}
