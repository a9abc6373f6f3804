#!/usr/bin/env bash
# Runs a command against a private, throw-away PostgreSQL and NATS on free ports:
#   deploy/local/test.sh cargo nextest run --workspace
# With SPORTELLO_DURABLE=1, PostgreSQL keeps its production durability (fsync on), for
# benchmarks that must measure the real thing.
# Exports SPORTELLO_TEST_DATABASE_URL, SPORTELLO_TEST_DATABASE_CA (its server certificate's
# CA) and SPORTELLO_TEST_NATS_URL for the tests, and
# removes both servers and their data afterwards, whatever the command's outcome.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sportello-test.XXXXXX")
chmod 755 "$WORK"
NATS_PID=
cleanup() {
  local status=$?
  set +e
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; fi
  pg_stop "$WORK/pg"
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
pg_start "$WORK/pg" "$PG_PORT" "$([ "${SPORTELLO_DURABLE:-}" = 1 ] && echo durable || echo throwaway)"
NATS_PORT=$(free_port)
nats_start "$WORK/nats" "$NATS_PORT"

# What the tests write (their certificates, their stacks' logs) goes with the servers.
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"
export SPORTELLO_TEST_DATABASE_URL="postgres://sportello@127.0.0.1:$PG_PORT/postgres"
# The CA of the cluster's server certificate, for tests of verified TLS (pg_tls).
export SPORTELLO_TEST_DATABASE_CA="$WORK/pg/tls/ca.crt"
export SPORTELLO_TEST_NATS_URL="nats://127.0.0.1:$NATS_PORT"
say "private PostgreSQL on :$PG_PORT, NATS on :$NATS_PORT"
"$@"
