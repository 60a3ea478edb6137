#!/usr/bin/env bash
# Stop the Gregor nodes running on this machine, as Kafka's
# kafka-server-stop.sh stops its brokers: send SIGTERM (or $SIGNAL) to every
# `gregor server` process and return without waiting for them to exit.
#
#	kafka-server-stop.sh
#
# Exits 1 with "No kafka server to stop" when none is running.

SIGNAL=${SIGNAL:-TERM}

# A gregor server process has argv[0] ending in "gregor" and argv[1] equal
# to "server" (kafka-server-start.sh runs .gregor/bin/gregor server ...).
PIDS=$(ps ax -o pid= -o args= | awk '
  {
    n = split($2, path, "/")
    if (path[n] == "gregor" && $3 == "server") print $1
  }')

if [ -z "$PIDS" ]; then
  echo "No kafka server to stop"
  exit 1
else
  kill -s "$SIGNAL" $PIDS
fi
