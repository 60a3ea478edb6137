#!/usr/bin/env bash
# Create, renew, expire or describe delegation tokens.
# Runs `gregor kafka-delegation-tokens` with the same options as Kafka's kafka-delegation-tokens.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-delegation-tokens "$@"
