#!/usr/bin/env bash
# compare.sh: the same produce/consume workload against Gregor and against
# franz-go's kfake, in alternating rounds; prints median throughput, the
# Gregor/kfake ratios and each broker's peak memory. See bench/README.md.
#
# Settings (environment):
#   ROUNDS=3  RECORDS=2000000  RECORD_SIZE=100  PARTITIONS=6
#   ACKS=all  LINGER_MS=5  KFAKE_PERSIST=1 (kfake writes segments to disk)
#   BROKERS="gregor kfake" (which to run)  KEEP_LOGS=0 (keep the temp dir;
#   it is always kept when a round fails)
#   PRODUCER_PROPS="" (extra k=v for perf-produce)  GO=go
#   GREGOR_BIN=path (use this gregor binary instead of building one)
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-2000000}
RECORD_SIZE=${RECORD_SIZE:-100}
PARTITIONS=${PARTITIONS:-6}
ACKS=${ACKS:-all}
LINGER_MS=${LINGER_MS:-5}
KFAKE_PERSIST=${KFAKE_PERSIST:-1}
BROKERS=${BROKERS:-"gregor kfake"}
KEEP_LOGS=${KEEP_LOGS:-0}
PRODUCER_PROPS=${PRODUCER_PROPS:-}
GO=${GO:-go}
GREGOR_BIN=${GREGOR_BIN:-}

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--records) RECORDS=$2; shift 2 ;;
	--record-size) RECORD_SIZE=$2; shift 2 ;;
	--partitions) PARTITIONS=$2; shift 2 ;;
	--brokers) BROKERS=$2; shift 2 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gregor-bench.XXXXXX")
BROKER_PID=""

cleanup() {
	local rc=$?
	stop_broker || true
	if [ "$KEEP_LOGS" = 1 ] || [ "$rc" != 0 ]; then
		echo "logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[compare] $*" >&2; }

# --- build --------------------------------------------------------------
log "building gregor and benchkit in $WORK"
if [ -n "$GREGOR_BIN" ]; then
	GREGOR=$GREGOR_BIN
else
	(cd "$REPO" && "$GO" build -o "$WORK/gregor" ./cmd/gregor)
	GREGOR="$WORK/gregor"
fi
(cd "$BENCH_DIR" && "$GO" build -o "$WORK/benchkit" ./benchkit)
BENCHKIT="$WORK/benchkit"

# --- brokers ------------------------------------------------------------
# start_<broker> DATA_DIR PORT LOG starts the broker in the background on
# 127.0.0.1:PORT and sets BROKER_PID. Adapt start_gregor if the server's
# flags change.

start_gregor() {
	local dir=$1 port=$2 logf=$3 cport
	cport=$("$BENCHKIT" freeport)
	"$GREGOR" server "$REPO/config/server.properties" \
		--override "log.dirs=$dir" \
		--override "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport" \
		--override "advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport" \
		--override "controller.quorum.bootstrap.servers=127.0.0.1:$cport" \
		--override "num.partitions=$PARTITIONS" \
		>"$logf" 2>&1 &
	BROKER_PID=$!
}

start_kfake() {
	local dir=$1 port=$2 logf=$3
	local persist=()
	if [ "$KFAKE_PERSIST" = 1 ]; then persist=(-data-dir "$dir"); fi
	"$BENCHKIT" kfake -port "$port" -partitions "$PARTITIONS" "${persist[@]}" >"$logf" 2>&1 &
	BROKER_PID=$!
}

stop_broker() {
	if [ -n "$BROKER_PID" ]; then
		kill -TERM "$BROKER_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
		BROKER_PID=""
	fi
}

# peak_rss_kib PID prints the process's peak resident set (VmHWM) in KiB.
peak_rss_kib() {
	awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

wait_port() {
	local port=$1
	for _ in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$BROKER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# --- one round ----------------------------------------------------------
# run_round BROKER ROUND appends "broker round prod_rps prod_mbs cons_rps
# cons_mbs peak_kib" to $WORK/results.
run_round() {
	local broker=$1 round=$2
	local dir="$WORK/$broker-$round" port addr topic=bench
	mkdir -p "$dir/data"
	port=$("$BENCHKIT" freeport)
	addr="127.0.0.1:$port"
	log "round $round: $broker on $addr"
	"start_$broker" "$dir/data" "$port" "$dir/broker.log"
	if ! wait_port "$port"; then
		log "$broker did not start; its log:"; tail -n 30 "$dir/broker.log" >&2; exit 1
	fi
	# Create the topic up front so that both brokers get PARTITIONS
	# partitions; fall back on auto-creation.
	for _ in $(seq 1 50); do
		if "$GREGOR" kafka-topics --bootstrap-server "$addr" --create --topic "$topic" \
			--partitions "$PARTITIONS" --replication-factor 1 >"$dir/topic.log" 2>&1; then
			break
		fi
		sleep 0.2
	done

	# shellcheck disable=SC2086
	"$GREGOR" perf-produce --topic "$topic" --num-records "$RECORDS" --record-size "$RECORD_SIZE" \
		--throughput -1 --producer-props "bootstrap.servers=$addr" "acks=$ACKS" "linger.ms=$LINGER_MS" $PRODUCER_PROPS \
		>"$dir/produce.out" 2>"$dir/produce.err"
	local pline
	pline=$(grep -E 'ms 99\.9th\.$' "$dir/produce.out" | tail -n 1)
	if [ -z "$pline" ]; then
		log "perf-produce against $broker failed:"; cat "$dir/produce.out" "$dir/produce.err" >&2; exit 1
	fi
	echo "  produce: $pline" >&2
	# "N records sent, X records/sec (Y MB/sec), ..."
	local prps pmbs
	prps=$(sed -E 's/^[0-9]+ records sent, ([0-9.]+) records\/sec.*/\1/' <<<"$pline")
	pmbs=$(sed -E 's/.*records\/sec \(([0-9.]+) MB\/sec\).*/\1/' <<<"$pline")

	"$GREGOR" perf-consume --bootstrap-server "$addr" --topic "$topic" --messages "$RECORDS" --timeout 60000 \
		>"$dir/consume.out" 2>"$dir/consume.err"
	local cline
	cline=$(tail -n 1 "$dir/consume.out")
	if grep -q WARNING "$dir/consume.out" || [ "$(awk -F', ' '{print NF}' <<<"$cline")" != 10 ]; then
		log "perf-consume against $broker failed:"; cat "$dir/consume.out" "$dir/consume.err" >&2; exit 1
	fi
	echo "  consume: $cline" >&2
	local crps cmbs
	cmbs=$(awk -F', ' '{print $4}' <<<"$cline")
	crps=$(awk -F', ' '{print $6}' <<<"$cline")

	local peak
	peak=$(peak_rss_kib "$BROKER_PID")
	stop_broker
	echo "$broker $round $prps $pmbs $crps $cmbs $peak" >>"$WORK/results"
	rm -rf "$dir/data"
}

# --- main ---------------------------------------------------------------
log "workload: $RECORDS records of $RECORD_SIZE B, $PARTITIONS partitions, acks=$ACKS, linger.ms=$LINGER_MS, $ROUNDS rounds"
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
	for broker in $BROKERS; do
		run_round "$broker" "$round"
	done
done

# median COLUMN BROKER
median() {
	awk -v b="$2" -v c="$1" '$1 == b {print $c}' "$WORK/results" | sort -g |
		awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
peak() {
	awk -v b="$1" '$1 == b && $7 > m {m=$7} END {printf "%.1f", m/1024}' "$WORK/results"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }

echo
echo "Workload: $RECORDS records x $RECORD_SIZE B, $PARTITIONS partitions, acks=$ACKS, linger.ms=$LINGER_MS; median of $ROUNDS rounds"
printf '%-12s %14s %10s %14s %10s %14s\n' broker "produce rec/s" "MB/s" "consume rec/s" "MB/s" "peak RSS MiB"
for b in $BROKERS; do
	printf '%-12s %14.0f %10.2f %14.0f %10.2f %14s\n' "$b" "$(median 3 "$b")" "$(median 4 "$b")" \
		"$(median 5 "$b")" "$(median 6 "$b")" "$(peak "$b")"
done
if [[ " $BROKERS " == *" gregor "* && " $BROKERS " == *" kfake "* ]]; then
	printf '%-12s %14s %10s %14s %10s %14s\n' "gregor/kfake" \
		"$(ratio "$(median 3 gregor)" "$(median 3 kfake)")" "$(ratio "$(median 4 gregor)" "$(median 4 kfake)")" \
		"$(ratio "$(median 5 gregor)" "$(median 5 kfake)")" "$(ratio "$(median 6 gregor)" "$(median 6 kfake)")" \
		"$(ratio "$(peak gregor)" "$(peak kfake)")"
fi
echo
echo "Per round (broker round produce_rec/s produce_MB/s consume_rec/s consume_MB/s peak_KiB):"
cat "$WORK/results"
