#!/usr/bin/env bash
# Print the offsets of topic-partitions.
# Runs `gregor kafka-get-offsets` with the same options as Kafka's kafka-get-offsets.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-get-offsets "$@"
