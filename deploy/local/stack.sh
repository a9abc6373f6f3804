#!/usr/bin/env bash
# Starts the whole stack from the built binaries on free ports, seeds the demo
# municipality, runs a command against it, and stops everything:
#   deploy/local/test.sh deploy/local/stack.sh npm --prefix services/gateway/ui test
# Expects SPORTELLO_TEST_DATABASE_URL (from test.sh) and the debug binaries (cargo build
# --bins); starts its own NATS, each service connecting as its own user. Exports for the
# command:
#   SPORTELLO_URL               the gateway, e.g. http://127.0.0.1:41234
#   SPORTELLO_DEMO_PASSWORD     the demo accounts' password
#   PAGOPA_GPD_URL              the local pagoPA simulator (pay at $PAGOPA_GPD_URL/sim/pay)
#   SPORTELLO_DEMO_FISCAL_CODE  a resident head of family of the synthetic La Spezia
#   SPORTELLO_DEMO_MOVER_FISCAL_CODE  another, who lives alone: a move within the
#                               municipality needs no one named to head a family left behind
#   SPORTELLO_DEMO_CHILD_FISCAL_CODE, SPORTELLO_DEMO_PARENT_FISCAL_CODE  a resident child of
#                               the nursery's age (4 to 35 months) on 1 September of the
#                               school year the demo's enrolment window is open for, and
#                               the head of their family
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"
: "${SPORTELLO_TEST_DATABASE_URL:?run me under deploy/local/test.sh}"

BIN="${CARGO_TARGET_DIR:-$ROOT/target}/${PROFILE:-debug}"
SERVICES=(routing registry education suap mobility urp gateway)
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/sportello-stack.XXXXXX")
PIDS=()
NATS_PID=
stop_all() {
  local status=$?
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; fi
  if [ "$status" != 0 ]; then
    say "the stack's logs (last lines each):"
    for f in "$LOGS"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2
  fi
  rm -rf "$LOGS"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

db="stack_$$"
"$(pg_bindir)/psql" "$SPORTELLO_TEST_DATABASE_URL" -qc "create database $db" >/dev/null
export DATABASE_URL="${SPORTELLO_TEST_DATABASE_URL%/*}/$db"
# As in production: each service migrates as the owner role and runs as its own role.
PG_PORT=${SPORTELLO_TEST_DATABASE_URL##*:}; PG_PORT=${PG_PORT%%/*}
PG_OWNER=$(pg_roles "$PG_PORT" "$db" "${SERVICES[@]}")
export PSEUDONYM_KEY
PSEUDONYM_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export PROTOCOL_NAME_KEYS
PROTOCOL_NAME_KEYS=$(python3 -c 'import secrets; print("k1:" + secrets.token_hex(32))')
export HEALTH_DATA_KEYS
HEALTH_DATA_KEYS=$(python3 -c 'import secrets; print("h1:" + secrets.token_hex(32))')
export LISTEN_HOST=127.0.0.1 COOKIE_SECURE=false LOG_FORMAT=text
# The shipped La Spezia catalogue, the demo municipality's.
export CATALOGUE_SEED=${CATALOGUE_SEED:-011015}
export SPORTELLO_DEMO_PASSWORD=${SPORTELLO_DEMO_PASSWORD:-demo-sportello}
# Mutual TLS: a throw-away authority and a certificate per service, the demo seeder and
# a command-line client (exported as SPORTELLO_PKI for the command).
export SPORTELLO_PKI="$LOGS/pki"
PKI=$SPORTELLO_PKI
pki_issue "$PKI" "$BIN" "${SERVICES[@]/#/svc/}" tool/demo tool/cli

mapfile -t ports < <(free_ports $((2 + 2 * ${#SERVICES[@]})))
HTTP_PORT=${ports[0]}
NATS_PORT=${ports[$((1 + 2 * ${#SERVICES[@]}))]}
# NATS with authentication on, as deployed: each service its own user.
nats_start "$LOGS/nats" "$NATS_PORT" "$BIN" "${SERVICES[@]}"
export SPORTELLO_URL="http://127.0.0.1:$HTTP_PORT"
# A real SMTP server for the bookings' confirmation codes: each message lands as a file in
# SPORTELLO_STACK_MAILDIR (a Maildir), where a test reads it.
SMTP_PORT=$(free_port)
export SPORTELLO_STACK_MAILDIR="$LOGS/maildir"
PYTHONPATH=$(aiosmtpd_path) python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
  -c aiosmtpd.handlers.Mailbox "$SPORTELLO_STACK_MAILDIR" >"$LOGS/smtpd.log" 2>&1 &
PIDS+=($!)
export SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" MAIL_FROM="prenotazioni@sportello.invalid"
# A local pagoPA that the paying services create debt positions at and a test pays
# through (POST $PAGOPA_GPD_URL/sim/pay).
PAGOPA_PORT=$(free_port)
PAGOPA_SIM_LISTEN="127.0.0.1:$PAGOPA_PORT" "$BIN/sportello-pagopa-sim" >"$LOGS/pagopa-sim.log" 2>&1 &
PIDS+=($!)
while IFS= read -r assignment; do export "${assignment?}"; done < <(pagopa_sim_env "$PAGOPA_PORT")
export CERTIFICATE_VERIFY_URL="$SPORTELLO_URL/verifica"
export UI_ASSETS_DIR="$ROOT/services/gateway/ui/dist"
declare -A GRPC METRICS
i=1
for name in "${SERVICES[@]}"; do
  GRPC[$name]=${ports[$i]}; METRICS[$name]=${ports[$((i + 1))]}; i=$((i + 2))
  export "$(echo "$name" | tr a-z A-Z)_URL=https://127.0.0.1:${GRPC[$name]}"
done
for name in "${SERVICES[@]}"; do
  # shellcheck disable=SC2046  # the TLS_* assignments split into words on purpose
  env $(tls_env "$PKI" "svc/$name") $(pg_service_env "$DATABASE_URL" "$PG_OWNER" "$name") GRPC_PORT=${GRPC[$name]} METRICS_PORT=${METRICS[$name]} HTTP_PORT=$HTTP_PORT \
    NATS_URL="$(nats_url_for "$LOGS/nats" "$NATS_PORT" "$name")" \
    "$BIN/sportello-$name" >"$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
done

say "stack starting on $SPORTELLO_URL"
wait_serving "$SPORTELLO_URL" "${PIDS[@]}"

say "seeding the demo municipality"
# shellcheck disable=SC2046  # the tools run as their service's role
env $(pg_service_env "$DATABASE_URL" "$PG_OWNER" registry) SYNTH_RESIDENTS=${SYNTH_RESIDENTS:-3000} "$BIN/sportello-registry-synth" >"$LOGS/synth.log" 2>&1 \
  || die "loading the synthetic residents failed"
# shellcheck disable=SC2046
env $(tls_env "$PKI" tool/demo) $(pg_service_env "$DATABASE_URL" "$PG_OWNER" gateway) DEMO_PASSWORD=$SPORTELLO_DEMO_PASSWORD "$BIN/sportello-demo" >"$LOGS/demo.log" 2>&1 \
  || die "seeding the demo municipality failed"
SPORTELLO_DEMO_FISCAL_CODE=$("$(pg_bindir)/psql" "$DATABASE_URL" -Atc "
  select r.fiscal_code from registry.residents r
  join registry.resident_versions v on v.resident_id = r.id
  where v.valid_to is null and v.superseded_at is null and v.status = 'resident'
    and v.relationship = 'head'
  order by r.fiscal_code limit 1")
[ -n "$SPORTELLO_DEMO_FISCAL_CODE" ] || die "no resident head of family in the synthetic register"
export SPORTELLO_DEMO_FISCAL_CODE
SPORTELLO_DEMO_MOVER_FISCAL_CODE=$("$(pg_bindir)/psql" "$DATABASE_URL" -Atc "
  select r.fiscal_code from registry.residents r
  join registry.resident_versions v on v.resident_id = r.id
  where v.valid_to is null and v.superseded_at is null and v.status = 'resident'
    and v.relationship = 'head' and r.fiscal_code <> '$SPORTELLO_DEMO_FISCAL_CODE'
    and (select count(*) from registry.resident_versions o
         where o.family_id = v.family_id and o.valid_to is null and o.superseded_at is null
           and o.status = 'resident') = 1
  order by r.fiscal_code limit 1")
export SPORTELLO_DEMO_MOVER_FISCAL_CODE
read -r SPORTELLO_DEMO_CHILD_FISCAL_CODE SPORTELLO_DEMO_PARENT_FISCAL_CODE < <(demo_child "$DATABASE_URL") || true
[ -n "${SPORTELLO_DEMO_CHILD_FISCAL_CODE:-}" ] || die "no resident child of the nursery's age in the synthetic register"
export SPORTELLO_DEMO_CHILD_FISCAL_CODE SPORTELLO_DEMO_PARENT_FISCAL_CODE

say "running: $*"
"$@"
