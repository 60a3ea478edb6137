#!/usr/bin/env bash
# Measure consumer throughput.
# Runs `gregor perf-consume` with the same options as Kafka's kafka-consumer-perf-test.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec perf-consume "$@"
