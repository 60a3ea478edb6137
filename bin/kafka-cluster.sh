#!/usr/bin/env bash
# Get the id of a cluster, or unregister a broker from it.
# Runs `gregor kafka-cluster` with the same options as Kafka's kafka-cluster.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-cluster "$@"
