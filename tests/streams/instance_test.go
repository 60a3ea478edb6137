package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kgo"
)

// instanceEnv names the environment variable that turns the test binary
// into an instance of the counting application: its value is the
// instance's JSON config.
const instanceEnv = "GREGOR_STREAMS_INSTANCE"

// instanceConfig is what an instance process is told.
type instanceConfig struct {
	Brokers   []string
	AppID     string
	StateDir  string
	Guarantee streams.Guarantee
	Input     string
	Output    string
	Standbys  int
}

// Lines an instance prints on stderr.
const (
	stateLineFormat = "instance state %s"
	stateRunning    = "instance state RUNNING"
)

// runInstance runs WordCount (lines → words → repartition → count) as
// one instance until SIGTERM, then closes it cleanly. It returns the exit
// status.
func runInstance(raw string) int {
	var cfg instanceConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "instance: bad config:", err)
		return 2
	}
	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	topo, err := wordcount.Topology(cfg.Input, cfg.Output)
	if err != nil {
		fmt.Fprintln(os.Stderr, "instance:", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := streams.New(topo,
		streams.ApplicationID(cfg.AppID),
		streams.BootstrapServers(cfg.Brokers...),
		streams.StateDir(cfg.StateDir),
		streams.ProcessingGuarantee(cfg.Guarantee),
		streams.CommitInterval(100*time.Millisecond),
		streams.TransactionTimeout(3*time.Second),
		streams.NumStandbyReplicas(cfg.Standbys),
		streams.Logger(log),
		streams.OnStateChange(func(_, s streams.State) { fmt.Fprintf(os.Stderr, stateLineFormat+"\n", s) }),
		streams.ClientOpts(kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond)),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "instance:", err)
		return 1
	}
	if err := app.Run(stop); err != nil {
		fmt.Fprintln(os.Stderr, "instance: stopped on error:", err)
		return 1
	}
	return 0
}
