# Shared helper for the Kafka-named scripts in this directory; each script
# sources it and calls gregor_exec with the gregor subcommand it stands for:
#
#	. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
#	gregor_exec kafka-topics "$@"
#
# gregor_exec (re)builds the gregor binary into $GREGOR_HOME/.gregor/bin
# when it is missing or older than any non-test .go file, go.mod or go.sum
# of the repository, then replaces the shell with `gregor <subcommand> ARGS`.
# The build is quiet: only compiler errors are printed.
#
# Environment:
#	GREGOR_HOME  the repository (default: the parent of this directory)
#	GREGOR_BIN   a prebuilt gregor binary to run instead (no build)
#	GO           the go command (default: go)

GREGOR_HOME="${GREGOR_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# gregor_binary prints the path of an up-to-date gregor binary, building it
# first if needed. It fails (non-zero) if the build fails.
gregor_binary() {
  if [ -n "${GREGOR_BIN:-}" ]; then
    printf '%s\n' "$GREGOR_BIN"
    return 0
  fi
  local bin="$GREGOR_HOME/.gregor/bin/gregor"
  local stale=
  if [ ! -x "$bin" ]; then
    stale=1
  elif [ -n "$(find "$GREGOR_HOME" \( -name .git -o -name .gregor -o -name testdata \) -prune -o \
      -type f \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) \
      -newer "$bin" -print -quit 2>/dev/null)" ]; then
    stale=1
  fi
  if [ -n "$stale" ]; then
    local go="${GO:-go}"
    if ! command -v "$go" >/dev/null 2>&1; then
      if [ -x "$bin" ]; then
        printf '%s\n' "$bin" # cannot rebuild; run what we have
        return 0
      fi
      echo "gregor: '$go' not found; install Go to build gregor" >&2
      return 1
    fi
    mkdir -p "$GREGOR_HOME/.gregor/bin" || return 1
    # Build to a temporary name and rename, so that scripts started at the
    # same time never run a half-written binary.
    local tmp="$bin.tmp.$$"
    if ! (cd "$GREGOR_HOME" && "$go" build -o "$tmp" ./cmd/gregor); then
      rm -f "$tmp"
      echo "gregor: build failed" >&2
      return 1
    fi
    mv -f "$tmp" "$bin" || return 1
  fi
  printf '%s\n' "$bin"
}

# gregor_exec SUBCOMMAND [ARGS...] runs gregor in place of the shell.
gregor_exec() {
  local bin
  bin="$(gregor_binary)" || exit 1
  exec "$bin" "$@"
}
