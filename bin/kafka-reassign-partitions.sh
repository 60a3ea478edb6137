#!/usr/bin/env bash
# Move partition replicas between brokers: generate, execute, verify or cancel a reassignment.
# Runs `gregor kafka-reassign-partitions` with the same options as Kafka's kafka-reassign-partitions.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-reassign-partitions "$@"
