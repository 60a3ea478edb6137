#!/usr/bin/env bash
# Read records from standard input and produce them to a topic.
# Runs `gregor kafka-console-producer` with the same options as Kafka's kafka-console-producer.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-console-producer "$@"
