#!/usr/bin/env bash
# The local stack for the demo: S3 endpoint (moto's server mode; production is RustFS),
# a Prefect server backed by PostgreSQL (database `prefect`), and one process worker.
# Usage: local_stack.sh start|stop s3|prefect|worker
#        local_stack.sh stop all
# State (pids, logs, PREFECT_HOME) lives in .demo/. Starting something already up is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.demo
mkdir -p "$state"
S3_PORT="${S3_PORT:-9000}"
PREFECT_PORT="${PREFECT_PORT:-4200}"
export PREFECT_HOME="$PWD/$state/prefect-home"
export PREFECT_API_URL="http://127.0.0.1:$PREFECT_PORT/api"
export PREFECT_SERVER_ANALYTICS_ENABLED=false

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }
wait_for() {  # name, check command...
  local name=$1; shift
  for _ in $(seq 1 150); do "$@" && return 0; sleep 0.4; done
  echo "$name did not start; see $state/$name.log" >&2; tail -20 "$state/$name.log" >&2; return 1
}
prefect_healthy() { curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1; }

start_s3() {
  listening "$S3_PORT" && { echo "S3 endpoint already on 127.0.0.1:$S3_PORT"; return; }
  nohup .venv/bin/moto_server -H 127.0.0.1 -p "$S3_PORT" >"$state/s3.log" 2>&1 &
  echo $! >"$state/s3.pid"
  wait_for s3 listening "$S3_PORT"
  echo "S3 endpoint (moto server) on http://127.0.0.1:$S3_PORT"
}

start_prefect() {
  prefect_healthy && { echo "Prefect server already on $PREFECT_API_URL"; return; }
  psql -d postgres -tAc "select 1 from pg_database where datname = 'prefect'" | grep -q 1 || createdb prefect
  PREFECT_SERVER_DATABASE_CONNECTION_URL="postgresql+asyncpg://${PGUSER:-postgres}@${PGHOST:-127.0.0.1}:5432/prefect" \
    nohup .venv/bin/prefect server start --host 127.0.0.1 --port "$PREFECT_PORT" >"$state/prefect.log" 2>&1 &
  echo $! >"$state/prefect.pid"
  wait_for prefect prefect_healthy
  echo "Prefect server (PostgreSQL-backed) on http://127.0.0.1:$PREFECT_PORT"
}

start_worker() {
  running worker && { echo "worker already running"; return; }
  set -a; [ -f .env ] && source .env; set +a
  FLEETTICKETS_PROJECT_DIR="$PWD" PREFECT_RUNNER_HEARTBEAT_FREQUENCY=30 \
    nohup .venv/bin/prefect worker start --pool fleettickets --type process >"$state/worker.log" 2>&1 &
  echo $! >"$state/worker.pid"
  wait_for worker grep -q "started" "$state/worker.log"
  echo "worker polling work pool fleettickets (log: $state/worker.log)"
}

stop_one() {  # SIGINT first (the Prefect worker and server shut down cleanly on it), SIGKILL after 10 s
  if running "$1"; then
    local pid; pid=$(cat "$state/$1.pid")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$1" || break; sleep 0.2; done
    running "$1" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$state/$1.pid"
}

case "${1:-}:${2:-}" in
  start:s3) start_s3 ;;
  start:prefect) start_prefect ;;
  start:worker) start_worker ;;
  stop:all) stop_one worker; stop_one prefect; stop_one s3; echo "local stack stopped" ;;
  stop:*) stop_one "$2" ;;
  *) echo "usage: $0 start|stop s3|prefect|worker|all" >&2; exit 2 ;;
esac
