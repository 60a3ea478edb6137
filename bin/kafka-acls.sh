#!/usr/bin/env bash
# Add, remove and list ACLs.
# Runs `gregor kafka-acls` with the same options as Kafka's kafka-acls.sh.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec kafka-acls "$@"
