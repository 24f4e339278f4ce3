#!/usr/bin/env bash
# Installs (when missing) and starts a local PostgreSQL with pgvector for the test suite, and
# prints the database URL to use. Idempotent: a second run reuses what is there.
set -euo pipefail

apt_updated=""
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    [ -n "$apt_updated" ] || { apt-get update -qq >&2; apt_updated=1; }
    apt-get install -y -qq "$@" >&2
}

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "installing PostgreSQL (Debian packages)…" >&2
    apt_install postgresql postgresql-contrib
fi
pg_major=$(ls /usr/lib/postgresql | sort -n | tail -1)
if [ ! -f "/usr/share/postgresql/$pg_major/extension/vector.control" ]; then
    echo "installing pgvector…" >&2
    apt_install "postgresql-$pg_major-pgvector" || echo "pgvector not available: its tests will be skipped" >&2
fi

version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
    pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 1
done

su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='koppelkans'\"" | grep -q 1 || \
    su postgres -c "psql -qc \"CREATE ROLE koppelkans LOGIN SUPERUSER PASSWORD 'koppelkans'\"" >&2
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='koppelkans_test'\"" | grep -q 1 || \
    su postgres -c "createdb -O koppelkans koppelkans_test" >&2

echo "postgresql+psycopg://koppelkans:koppelkans@127.0.0.1:5432/koppelkans_test"
