#!/usr/bin/env bash
# Describe or alter the dynamic configs of topics and brokers.
# Runs `gregor kafka-configs` with the same options as Kafka's kafka-configs.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-configs "$@"
