#!/usr/bin/env bash
# Format log directories, print their state, or make a cluster id.
# Runs `gregor kafka-storage` with the same options as Kafka's kafka-storage.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-storage "$@"
