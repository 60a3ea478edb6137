#!/usr/bin/env bash
# List, describe, delete consumer groups or reset their offsets.
# Runs `gregor kafka-consumer-groups` with the same options as Kafka's kafka-consumer-groups.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-consumer-groups "$@"
