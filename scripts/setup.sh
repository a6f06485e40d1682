#!/usr/bin/env bash
# Makes a fresh machine ready for the demo and the tests; safe to run again.
# PostGIS for the running PostgreSQL's major version, PostgreSQL started, the
# database created, .venv synced from uv.lock, migrations applied.
set -euo pipefail
cd "$(dirname "$0")/.."

DB_NAME="${FLEETTICKETS_DB:-tracksolid_db}"
export PGHOST="${PGHOST:-127.0.0.1}" PGUSER="${PGUSER:-postgres}"

pg_ready() { psql -d postgres -tAc 'select 1' >/dev/null 2>&1; }
if ! pg_ready; then
  for cluster in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || true
  done
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
pg_ready || { echo "setup: PostgreSQL is not reachable on $PGHOST" >&2; exit 1; }

major=$(psql -d postgres -tAc "select current_setting('server_version_num')::int / 10000")
if ! psql -d postgres -tAc "select 1 from pg_available_extensions where name = 'postgis'" | grep -q 1; then
  echo "setup: installing postgresql-$major-postgis-3 from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "postgresql-$major-postgis-3" >/dev/null
fi

psql -d postgres -tAc "select 1 from pg_database where datname = '$DB_NAME'" | grep -q 1 \
  || createdb "$DB_NAME"

command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
uv sync --frozen --quiet --compile-bytecode  # this machine sets PYTHONDONTWRITEBYTECODE: compile once

[ -f .env ] || cp .env.example .env
.venv/bin/fleettickets migrate

# The end-to-end test screenshots the Prefect UI with Debian's Chromium.
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
