#!/usr/bin/env bash
# `make run`: the whole stack on this machine.
#
# Unless DATABASE_URL / NATS_URL are given, starts a private PostgreSQL (.sportello/pg)
# and a private NATS with JetStream (.sportello/nats), both kept between runs; then
# builds and starts every service and the gateway, waits until all are serving, and
# prints the URL to open. Ctrl-C stops everything it started and leaves no process behind.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE=${PROFILE:-debug}
PG_PORT=${SPORTELLO_PG_PORT:-54329}
NATS_PORT=${SPORTELLO_NATS_PORT:-54222}
HTTP_PORT=${SPORTELLO_HTTP_PORT:-8080}
SERVICES=(routing registry education suap mobility urp gateway)
declare -A GRPC_PORT=([routing]=50051 [registry]=50052 [education]=50053 [suap]=50054 [mobility]=50055 [urp]=50056 [gateway]=50057)
declare -A METRICS_PORT=([routing]=9101 [registry]=9102 [education]=9103 [suap]=9104 [mobility]=9105 [urp]=9106 [gateway]=9107)

PIDS=()
NATS_PID=
OWN_PG=
stop_all() {
  trap - INT TERM EXIT
  set +e  # stop everything we can, even if something is already gone
  say "stopping"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "$NATS_PID" ]; then kill -TERM "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; fi
  if [ -n "$OWN_PG" ]; then pg_stop "$STATE/pg"; fi
  say "stopped"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

mkdir -p "$STATE/logs"
if [ -z "${DATABASE_URL:-}" ]; then
  say "PostgreSQL: private cluster in $STATE/pg on port $PG_PORT"
  pg_start "$STATE/pg" "$PG_PORT" durable
  OWN_PG=1
  pg_createdb "$STATE/pg" "$PG_PORT" sportello
  export DATABASE_URL="postgres://sportello@127.0.0.1:$PG_PORT/sportello"
fi
if [ -z "${NATS_URL:-}" ]; then
  say "NATS: private JetStream server in $STATE/nats on port $NATS_PORT"
  nats_start "$STATE/nats" "$NATS_PORT"
  export NATS_URL="nats://127.0.0.1:$NATS_PORT"
fi

# The pseudonymisation secret (requester_ref = keyed hash of the fiscal code): one per
# local installation, kept with its data so references stay stable across runs.
if [ -z "${PSEUDONYM_KEY:-}" ]; then
  [ -s "$STATE/pseudonym.key" ] || python3 -c 'import secrets; print(secrets.token_hex(32))' >"$STATE/pseudonym.key"
  PSEUDONYM_KEY=$(cat "$STATE/pseudonym.key")
  export PSEUDONYM_KEY
fi

say "building the services ($PROFILE)"
cargo_flags=(--locked --bins)
[ "$PROFILE" = release ] && cargo_flags+=(--release)
(cd "$ROOT" && cargo build "${cargo_flags[@]}")
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"

export LISTEN_HOST=127.0.0.1
# Plain HTTP on loopback: session cookies cannot be Secure here (they are in Kubernetes).
export COOKIE_SECURE=${COOKIE_SECURE:-false}
# The demo municipality's shipped catalogue (La Spezia).
export CATALOGUE_SEED=${CATALOGUE_SEED:-011015}
export UI_ASSETS_DIR=${UI_ASSETS_DIR:-$ROOT/services/gateway/ui/dist}
export CERTIFICATE_VERIFY_URL=${CERTIFICATE_VERIFY_URL:-http://127.0.0.1:$HTTP_PORT/verifica}
for name in "${SERVICES[@]}"; do
  var=$(echo "$name" | tr a-z A-Z)_URL
  export "$var=http://127.0.0.1:${GRPC_PORT[$name]}"
done
for name in "${SERVICES[@]}"; do
  GRPC_PORT=${GRPC_PORT[$name]} METRICS_PORT=${METRICS_PORT[$name]} HTTP_PORT=$HTTP_PORT \
    # The log pipe ignores Ctrl-C so that the services' shutdown lines still reach the terminal.
    "$BIN/sportello-$name" > >(trap '' INT TERM; sed -u "s/^/[$name] /" | tee -a "$STATE/logs/$name.log") 2>&1 &
  PIDS+=($!)
done

URL="http://127.0.0.1:$HTTP_PORT/"
say "waiting for every service to serve"
wait_serving "${URL%/}" "${PIDS[@]}"
say "seeding the demo municipality (La Spezia: sites, operators, accounts, synthetic residents)"
"$BIN/sportello-registry-synth" 2>&1 | sed -u 's/^/[synth] /'
DEMO_PASSWORD=${DEMO_PASSWORD:-demo-sportello} "$BIN/sportello-demo"
printf '\n\033[1;32mSportello is running: open %s\033[0m  (Ctrl-C stops everything)\n' "$URL"
printf '  console %sconsole · board %stabellone/palazzo-civico · kiosk %stotem/palazzo-civico · status %sstato\n\n' "$URL" "$URL" "$URL" "$URL"
status=0
wait -n "${PIDS[@]}" || status=$?
# A service that was asked to stop (Ctrl-C reaches every process) exits 0.
[ "$status" = 0 ] && exit 0
[ "$status" -gt 128 ] && exit "$status"
die "a service exited with status $status; see the lines above and $STATE/logs/"
