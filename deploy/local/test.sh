#!/usr/bin/env bash
# Runs a command against a private, throw-away PostgreSQL on a free port:
#   deploy/local/test.sh cargo nextest run --workspace
# With SPORTELLO_DURABLE=1, PostgreSQL keeps its production durability (fsync on), for
# benchmarks that must measure the real thing.
# Exports SPORTELLO_TEST_DATABASE_URL, SPORTELLO_TEST_DATABASE_CA (its server certificate's
# CA) and SPORTELLO_TEST_NATS_SERVER (the nats-server binary: each test context starts its
# own server with a user per service, and stack.sh one for its stack),
# SPORTELLO_TEST_SMTPD_PYTHONPATH (where aiosmtpd is installed: a test that sends mail
# starts its own SMTP server), and removes the servers and their data afterwards,
# whatever the command's outcome.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sportello-test.XXXXXX")
chmod 755 "$WORK"
cleanup() {
  local status=$?
  set +e
  # A test process killed outright (a timeout) leaves its NATS server: stop it by its pid.
  for pidfile in "$WORK"/tmp/sportello-nats-*/nats.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  for pidfile in "$WORK"/tmp/sportello-smtpd-*/smtpd.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  pg_stop "$WORK/pg"
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
pg_start "$WORK/pg" "$PG_PORT" "$([ "${SPORTELLO_DURABLE:-}" = 1 ] && echo durable || echo throwaway)"

# What the tests write (their certificates, their stacks' logs) goes with the servers.
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"
export SPORTELLO_TEST_DATABASE_URL="postgres://sportello@127.0.0.1:$PG_PORT/postgres"
# The CA of the cluster's server certificate, for tests of verified TLS (pg_tls).
export SPORTELLO_TEST_DATABASE_CA="$WORK/pg/tls/ca.crt"
SPORTELLO_TEST_NATS_SERVER=$(nats_server_bin)
export SPORTELLO_TEST_NATS_SERVER
SPORTELLO_TEST_SMTPD_PYTHONPATH=$(aiosmtpd_path)
export SPORTELLO_TEST_SMTPD_PYTHONPATH
say "private PostgreSQL on :$PG_PORT; NATS: a server per test ($SPORTELLO_TEST_NATS_SERVER)"
"$@"
