#!/usr/bin/env bash
# Start a Gregor node, as Kafka's kafka-server-start.sh starts a broker:
#
#	kafka-server-start.sh [-daemon] [-name NAME] server.properties [--override property=value]*
#
# Runs `gregor server server.properties [--override ...]`. With -daemon the
# node runs in the background, detached from the terminal, with its console
# output in $LOG_DIR/NAME.out (LOG_DIR defaults to logs/ next to this
# directory, NAME to kafkaServer), and the script returns at once.

if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
  exit 1
fi

. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"

DAEMON_MODE=
DAEMON_NAME=kafkaServer
while [ $# -gt 0 ]; do
  case "$1" in
    -daemon) DAEMON_MODE=true; shift ;;
    -name)
      if [ $# -lt 2 ]; then
        echo "USAGE: $0 [-daemon] [-name NAME] server.properties [--override property=value]*"
        exit 1
      fi
      DAEMON_NAME="$2"; shift 2 ;;
    *) break ;;
  esac
done

if [ -z "$DAEMON_MODE" ]; then
  gregor_exec server "$@"
fi

LOG_DIR="${LOG_DIR:-$GREGOR_HOME/logs}"
mkdir -p "$LOG_DIR" || exit 1
CONSOLE_OUTPUT_FILE="$LOG_DIR/$DAEMON_NAME.out"
bin="$(gregor_binary)" || exit 1
nohup "$bin" server "$@" >"$CONSOLE_OUTPUT_FILE" 2>&1 </dev/null &
