// Package cli implements the gregor binary's subcommands: the broker
// itself and the tools that mirror Kafka's bin/ scripts (kafka-topics,
// kafka-console-producer, …). cmd/gregor only calls Main.
//
// Each command registers itself with register in an init function of its
// own file and receives its arguments after the command name. A command
// returns an error to fail; Main prints it and exits non-zero. Usage
// errors are wrapped with UsageError so that Main prints the command's
// usage too.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger
}

// Command is one subcommand of gregor.
type Command struct {
	// Name is the subcommand (for example "kafka-topics" or "server").
	Name string
	// Summary is one line shown by `gregor help`.
	Summary string
	// Run runs the command. ctx is cancelled on SIGINT or SIGTERM.
	Run func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]*Command{}

// register adds a command; it panics on a duplicate name (a programming
// error caught by any test of this package).
func register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("cli: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

// UsageError marks an error caused by wrong arguments.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usagef returns a UsageError with a formatted message.
func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Main runs the subcommand named by args[0] and returns the process exit
// code.
func Main(args []string) int {
	env := &Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	// The process's own logger is the default too, so that code logging
	// through slog.Default (connectors, Streams examples) writes the same
	// format to the same place.
	slog.SetDefault(env.Logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, env, args)
}

// Run is Main with its environment passed in, for tests.
func Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(env.Stdout)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "gregor: unknown command %q; run 'gregor help' for the list\n", args[0])
		return 1
	}
	if err := c.Run(ctx, env, args[1:]); err != nil {
		// Errors that Kafka's tools print in their own words and place.
		var ke *kafkaError
		if errors.As(err, &ke) {
			ke.printTo(env)
			return 1
		}
		var ue *UsageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "%s: %v\nRun '%s --help' for its options.\n", c.Name, err, c.Name)
			return 1
		}
		fmt.Fprintf(env.Stderr, "%s: %v\n", c.Name, err)
		return 1
	}
	return 0
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "gregor: an event streaming platform that speaks Kafka's protocol.")
	fmt.Fprintln(w, "\nUsage: gregor <command> [options]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s %s\n", n, commands[n].Summary)
	}
}
