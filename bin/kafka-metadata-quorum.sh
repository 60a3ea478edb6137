#!/usr/bin/env bash
# Describe the KRaft metadata quorum's status and replication.
# Runs `gregor kafka-metadata-quorum` with the same options as Kafka's kafka-metadata-quorum.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-metadata-quorum "$@"
