#!/usr/bin/env bash
# List, describe and abort transactions, and find hanging ones.
# Runs `gregor kafka-transactions` with the same options as Kafka's kafka-transactions.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-transactions "$@"
