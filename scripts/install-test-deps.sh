#!/usr/bin/env bash
# Installs the third-party clients the tests drive: kcat (librdkafka),
# python3-confluent-kafka and python3-kafka from Debian, with the modules
# kafka-python needs for snappy, lz4 and zstd (python3-snappy, python3-lz4,
# python3-zstandard), PostgreSQL (initdb, postgres, psql) for the
# PostgreSQL connectors' tests, and kafkajs from npm.
# Needs root (CI runs as root). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v kcat >/dev/null || need+=(kcat)
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || need+=(python3-confluent-kafka)
/usr/bin/python3 -c 'import kafka' 2>/dev/null || need+=(python3-kafka)
/usr/bin/python3 -c 'import snappy' 2>/dev/null || need+=(python3-snappy)
/usr/bin/python3 -c 'import lz4' 2>/dev/null || need+=(python3-lz4)
/usr/bin/python3 -c 'import zstandard' 2>/dev/null || need+=(python3-zstandard)
# PostgreSQL server binaries for the PostgreSQL connectors' tests, which
# run their own throwaway server (internal/testpg), never the system one.
command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d tests/compat/kafkajs/node_modules/kafkajs ] && [ -f tests/compat/kafkajs/package.json ]; then
  (cd tests/compat/kafkajs && npm install --no-audit --no-fund --silent)
fi
