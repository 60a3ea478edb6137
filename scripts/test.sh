#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages and
# npm modules; run as root on a fresh machine), then runs the Go tests
# (unit, end-to-end with real clients over TCP, crash and bad-input tests)
# and franz-go's own kgo integration suite against a real Gregor broker.
#
# Environment:
#   GREGOR_TEST_SKIP_INSTALL=1   do not apt-get/npm install
#   GREGOR_TEST_SHORT=1          skip the kgo integration suite
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

if [ "${GREGOR_TEST_SKIP_INSTALL:-}" != 1 ]; then
  step "installing test dependencies"
  scripts/install-test-deps.sh
fi

step "go vet"
go vet ./...

step "go test (race, invariants)"
go test -race -tags invariants -count=1 -timeout 20m ./...

if [ "${GREGOR_TEST_SHORT:-}" != 1 ]; then
  step "franz-go kgo integration suite against one gregor node (with SASL/SCRAM for its SCRAM tests)"
  GREGOR_KGO_SASL=1 scripts/kgo-integration.sh
  step "franz-go kgo integration suite against a three-node gregor cluster"
  GREGOR_KGO_NODES=3 scripts/kgo-integration.sh
fi

step "done"
