// Package standalone runs a Gregor Connect worker in standalone mode with
// the plugins registered in the calling program, so that connectors
// written with the connect SDK outside this repository run exactly as
// `gregor connect-standalone` runs the built-in ones:
//
//	package main
//
//	import (
//		"os"
//
//		_ "example.com/myconnector" // registers its plugins in init
//		"github.com/gregor-streaming/gregor/connect/standalone"
//	)
//
//	func main() { os.Exit(standalone.Main(os.Args[1:])) }
//
// then `myworker WORKER.properties CONNECTOR.properties…`, with Kafka's
// worker and connector properties. Kafka's converters and FileStream
// connectors are always registered.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gregor-streaming/gregor/internal/connect"
)

// Usage is Kafka's ConnectStandalone usage line.
const Usage = "Usage: ConnectStandalone worker.properties [connector1.properties connector2.json ...]"

// ErrUsage is returned by Run for missing arguments.
var ErrUsage = errors.New("standalone: " + Usage)

// Run runs a standalone worker until ctx is done, then stops it cleanly
// (committing offsets). args are the worker properties file and the
// connector files (.properties, or .json in POST /connectors' format).
// logger receives the worker's logs (nil discards them).
func Run(ctx context.Context, args []string, logger *slog.Logger) error {
	if len(args) == 0 {
		return ErrUsage
	}
	workerProps, err := connect.ReadWorkerFile(args[0])
	if err != nil {
		return err
	}
	var specs []connect.ConnectorSpec
	for _, f := range args[1:] {
		spec, err := connect.ReadConnectorFile(f)
		if err != nil {
			return err
		}
		specs = append(specs, spec)
	}
	w, err := connect.StartStandalone(ctx, workerProps, specs, connect.StandaloneOptions{Logger: logger})
	if err != nil {
		return err
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return w.Close(shutdown)
}

// Main is a worker program's main: it runs until SIGINT or SIGTERM, logs
// to standard error and returns the exit code.
func Main(args []string) int {
	return mainWith(args, os.Stderr)
}

func mainWith(args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := Run(ctx, args, logger); err != nil {
		if errors.Is(err, ErrUsage) {
			fmt.Fprintln(stderr, Usage)
		} else {
			fmt.Fprintln(stderr, "connect-standalone:", err)
		}
		return 1
	}
	return 0
}
