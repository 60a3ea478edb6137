#!/usr/bin/env bash
# Consume records from a topic and print them to standard output.
# Runs `gregor kafka-console-consumer` with the same options as Kafka's kafka-console-consumer.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-console-consumer "$@"
