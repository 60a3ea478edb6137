#!/usr/bin/env bash
# Run a Kafka Connect worker in standalone mode.
# Runs `gregor connect-standalone` with the same arguments as Kafka's
# connect-standalone.sh: a worker properties file, then connector
# properties (or JSON) files. Stop it with Ctrl-C; it commits offsets and
# stops its tasks cleanly.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec connect-standalone "$@"
