#!/usr/bin/env bash
# Create, delete, describe, or change a topic.
# Runs `gregor kafka-topics` with the same options as Kafka's kafka-topics.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-topics "$@"
