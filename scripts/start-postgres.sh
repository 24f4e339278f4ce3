#!/usr/bin/env bash
# Starts a local PostgreSQL 16 with pgvector for the test suite on 127.0.0.1:5432 and prints the
# database URL to use. Idempotent: a second run reuses what is there; after a crash it restarts.
#
# Debian has no pgvector package here, so the server comes from the PyPI wheel `pgserver`
# (PostgreSQL 16.2 with pgvector 0.6.2, relocatable binaries), fetched with pip into a folder
# outside the repository: $KOPPELKANS_PG_HOME, by default /var/lib/koppelkans-postgres as root
# (the server then runs as the `postgres` OS user, created when missing) and
# ~/.cache/koppelkans-postgres otherwise (it runs as the calling user).
set -euo pipefail

PGSERVER_VERSION=0.1.4
PGSERVER_SHA256=d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813
PORT=5432
URL="postgresql+psycopg://koppelkans:koppelkans@127.0.0.1:$PORT/koppelkans_test"

if [ "$(id -u)" = 0 ]; then
    home=${KOPPELKANS_PG_HOME:-/var/lib/koppelkans-postgres}
else
    home=${KOPPELKANS_PG_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/koppelkans-postgres}
fi
install_dir="$home/pgserver-$PGSERVER_VERSION"
bin="$install_dir/pgserver/pginstall/bin"
data="$home/data"
sockets="$home/run"
python=$(command -v python3.11 || command -v python3)

say() { echo "$*" >&2; }

# The server refuses to run as root: as root, every server command runs as `postgres`.
as_server_user() {
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

fetch_server() {
    if [ -x "$bin/postgres" ]; then return; fi
    [ "$(uname -m)" = x86_64 ] || { say "the pgserver wheel is for x86_64 Linux only"; exit 1; }
    if ! "$python" -m pip --version >/dev/null 2>&1; then
        say "installing pip (Debian package python3-pip)…"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >&2
    fi
    say "fetching PostgreSQL 16 with pgvector (PyPI wheel pgserver $PGSERVER_VERSION)…"
    local wheels="$home/wheels"
    mkdir -p "$wheels"
    # The wheel is built for CPython 3.11 but holds only server binaries: any local Python can fetch it.
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" \
        --python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64 \
        "pgserver==$PGSERVER_VERSION" >&2
    local wheel
    wheel=$(ls "$wheels"/pgserver-"$PGSERVER_VERSION"-*.whl)
    echo "$PGSERVER_SHA256  $wheel" | sha256sum --check --quiet >&2
    rm -rf "$install_dir.partial"
    "$python" -m zipfile -e "$wheel" "$install_dir.partial"
    chmod -R a+rX "$install_dir.partial"
    chmod a+x "$install_dir.partial"/pgserver/pginstall/bin/*  # zip extraction drops the exec bits
    mv "$install_dir.partial" "$install_dir"
}

stop_debian_cluster() {
    # A Debian cluster on the same port would take it first (or fail to start after ours).
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    pg_lsclusters -h | while read -r version name port status _; do
        if [ "$port" = "$PORT" ] && [ "$status" = online ]; then
            say "stopping the Debian PostgreSQL $version/$name cluster, which holds port $PORT"
            pg_ctlcluster "$version" "$name" stop >&2
        fi
    done
}

init_cluster() {
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin postgres
    fi
    mkdir -p "$sockets"
    chmod 755 "$home"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$sockets"; fi
    if [ -f "$data/PG_VERSION" ]; then return; fi
    say "creating the database cluster in $data…"
    rm -rf "$data"
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data"; fi
    # Local (socket) connections are trusted: the socket folder is the server user's alone.
    # Network connections need a password.
    as_server_user "$bin/initdb" --pgdata="$data" --username=postgres --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 --no-instructions >/dev/null
    chmod 700 "$sockets"
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$sockets'
max_connections = 200
EOF
}

# Whether our server is up (or a live postmaster is still starting). A server that was killed
# leaves postmaster.pid and the socket's lock file behind, and its pid may linger as a zombie
# (or be reused): then both are stale and go, or the new server would refuse to start.
server_alive() {
    "$bin/pg_isready" --quiet --host=127.0.0.1 --port=$PORT && return 0
    [ -f "$data/postmaster.pid" ] || return 1
    local pid state
    pid=$(head -n 1 "$data/postmaster.pid")
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    if [ -n "$state" ] && [ "$state" != Z ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
        return 0
    fi
    say "removing the lock files of a server that is gone (pid $pid)"
    rm -f "$data/postmaster.pid" "$sockets/.s.PGSQL.$PORT.lock"
    return 1
}

start_server() {
    if server_alive; then
        return
    fi
    say "starting PostgreSQL 16 (pgvector) on 127.0.0.1:$PORT…"
    as_server_user "$bin/pg_ctl" start --pgdata="$data" --log="$data/server.log" --wait --timeout=60 >&2 || {
        tail -n 20 "$data/server.log" >&2
        exit 1
    }
}

psql_admin() {
    as_server_user "$bin/psql" --host="$sockets" --port=$PORT --username=postgres --quiet --no-psqlrc \
        --tuples-only --no-align --set=ON_ERROR_STOP=1 "$@"
}

fetch_server
stop_debian_cluster
init_cluster
start_server
for _ in $(seq 1 30); do
    "$bin/pg_isready" --quiet --host=127.0.0.1 --port=$PORT && break
    sleep 1
done
"$bin/pg_isready" --quiet --host=127.0.0.1 --port=$PORT || { say "PostgreSQL did not become ready"; exit 1; }

[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'koppelkans'")" = 1 ] ||
    psql_admin -c "CREATE ROLE koppelkans LOGIN SUPERUSER PASSWORD 'koppelkans'" >&2
[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'koppelkans_test'")" = 1 ] ||
    psql_admin -c "CREATE DATABASE koppelkans_test OWNER koppelkans" >&2
psql_admin --dbname=koppelkans_test -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS vector" >&2

echo "$URL"
