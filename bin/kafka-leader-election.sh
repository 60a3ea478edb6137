#!/usr/bin/env bash
# Elect the preferred (or an unclean) leader of partitions.
# Runs `gregor kafka-leader-election` with the same options as Kafka's kafka-leader-election.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-leader-election "$@"
