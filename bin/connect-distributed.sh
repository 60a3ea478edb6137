#!/usr/bin/env bash
# Run a Kafka Connect worker in distributed mode.
# Runs `gregor connect-distributed` with the same argument as Kafka's
# connect-distributed.sh: the worker properties file. Workers with the
# same group.id form one Connect cluster; create connectors through the
# REST API (listeners, default http://:8083) of any of them. Stop it with
# Ctrl-C; it commits offsets, stops its tasks cleanly and leaves the group.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec connect-distributed "$@"
