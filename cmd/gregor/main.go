// Command gregor runs a Gregor node and the tools that mirror Kafka's
// bin/ scripts. See `gregor help`.
package main

import (
	"os"

	"github.com/gregor-streaming/gregor/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
