#!/usr/bin/env bash
# Measure producer throughput and latency.
# Runs `gregor perf-produce` with the same options as Kafka's kafka-producer-perf-test.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec perf-produce "$@"
