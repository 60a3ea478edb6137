#!/usr/bin/env bash
# Delete records of partitions up to given offsets.
# Runs `gregor kafka-delete-records` with the same options as Kafka's kafka-delete-records.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-delete-records "$@"
