#!/usr/bin/env bash
# The fault-injection suite's stack (tests/src/chaos/stack.rs), prepared as
# deploy/local/stack.sh prepares make run's — with lib.sh's own functions — but started
# by the Rust harness, which owns every process so it can kill -9, stop and restart it:
#
#   tests/chaos/stack.sh prepare DIR BIN   a private, durable PostgreSQL cluster in DIR/pg
#       (running when this returns), the roles, a NATS configuration (JetStream encrypted,
#       a user per service; the server is started by the harness), a throw-away authority
#       with a certificate per service and tool/cli, free ports; writes DIR/stack.env and
#       one DIR/env/<process>.env per process (KEY=VALUE lines).
#   tests/chaos/stack.sh pg-start DIR      starts the cluster again (after pg-kill)
#   tests/chaos/stack.sh pg-kill DIR       pg_ctl stop -m immediate: the cluster dies as in
#       a power cut (no checkpoint; recovery replays the WAL at the next start)
#   tests/chaos/stack.sh pg-stop DIR       stops it cleanly (the harness's end)
#
# PostgreSQL is durable (fsync on): a fault that kills it must not lose what it
# acknowledged, which a throw-away cluster (synchronous_commit off) would.
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/lib.sh"

SERVICES=(routing registry education suap mobility urp gateway)

prepare() {
  local dir=$1 bin=$2
  mkdir -p "$dir/env" "$dir/logs"
  chmod 755 "$dir"
  mapfile -t ports < <(free_ports $((3 + 2 * ${#SERVICES[@]})))
  local pg_port=${ports[0]} nats_port=${ports[1]} http_port=${ports[2]}
  pg_start "$dir/pg" "$pg_port" durable
  pg_createdb "$dir/pg" "$pg_port" sportello
  local url="postgres://sportello@127.0.0.1:$pg_port/sportello" owner
  owner=$(pg_roles "$pg_port" sportello "${SERVICES[@]}")

  # The server is rendered and checked once here, then stopped: the harness runs it.
  nats_start "$dir/nats" "$nats_port" "$bin" "${SERVICES[@]}"
  kill "$NATS_PID" && wait "$NATS_PID" 2>/dev/null || true

  pki_issue "$dir/pki" "$bin" "${SERVICES[@]/#/svc/}" tool/demo tool/cli

  local common="$dir/env/common.env" i=3 name upper
  {
    echo "PSEUDONYM_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
    echo "PROTOCOL_NAME_KEYS=$(python3 -c 'import secrets; print("k1:" + secrets.token_hex(32))')"
    echo "HEALTH_DATA_KEYS=$(python3 -c 'import secrets; print("h1:" + secrets.token_hex(32))')"
    echo "LISTEN_HOST=127.0.0.1"
    echo "COOKIE_SECURE=false"
    echo "LOG_FORMAT=text"
    echo "CATALOGUE_SEED=011015"
    echo "HTTP_PORT=$http_port"
    echo "CERTIFICATE_VERIFY_URL=http://127.0.0.1:$http_port/verifica"
    echo "UI_ASSETS_DIR=$ROOT/services/gateway/ui/dist"
    for name in "${SERVICES[@]}"; do
      upper=$(echo "$name" | tr a-z A-Z)
      echo "${upper}_URL=https://127.0.0.1:${ports[$i]}"
      i=$((i + 2))
    done
  } >"$common"

  {
    echo "PG_DIR=$dir/pg"
    echo "PG_PORT=$pg_port"
    echo "DATABASE_URL=$url"
    echo "NATS_PORT=$nats_port"
    echo "NATS_BIN=$(nats_server_bin)"
    echo "NATS_CONF=$dir/nats/nats.conf"
    echo "NATS_ADMIN_URL=$(nats_url_for "$dir/nats" "$nats_port" admin)"
    echo "HTTP_PORT=$http_port"
    echo "PKI=$dir/pki"
  } >"$dir/stack.env"

  i=3
  for name in "${SERVICES[@]}"; do
    upper=$(echo "$name" | tr a-z A-Z)
    echo "GRPC_${upper}=${ports[$i]}" >>"$dir/stack.env"
    {
      cat "$common"
      # shellcheck disable=SC2046  # one assignment per word
      printf '%s\n' $(tls_env "$dir/pki" "svc/$name") $(pg_service_env "$url" "$owner" "$name")
      echo "GRPC_PORT=${ports[$i]}"
      echo "METRICS_PORT=${ports[$((i + 1))]}"
      echo "NATS_URL=$(nats_url_for "$dir/nats" "$nats_port" "$name")"
    } >"$dir/env/$name.env"
    i=$((i + 2))
  done
  # The demo seeders run as their service's role, as stack.sh runs them.
  {
    cat "$common"
    # shellcheck disable=SC2046
    printf '%s\n' $(pg_service_env "$url" "$owner" registry)
  } >"$dir/env/synth.env"
  {
    cat "$common"
    # shellcheck disable=SC2046
    printf '%s\n' $(tls_env "$dir/pki" tool/demo) $(pg_service_env "$url" "$owner" gateway)
  } >"$dir/env/demo.env"
}

pg_port_of() {
  sed -n 's/^PG_PORT=//p' "$1/stack.env"
}

case "${1:-}" in
  prepare) prepare "$2" "$3" ;;
  pg-start) pg_start "$2/pg" "$(pg_port_of "$2")" durable ;;
  pg-kill) pg_as_owner "$(pg_bindir)/pg_ctl" -D "$2/pg/data" -m immediate -w stop >/dev/null ;;
  pg-stop) pg_stop "$2/pg" ;;
  *) die "usage: $0 prepare DIR BIN | pg-start DIR | pg-kill DIR | pg-stop DIR" ;;
esac
