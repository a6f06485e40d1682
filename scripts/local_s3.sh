#!/usr/bin/env bash
# The local S3 endpoint: moto's server mode on 127.0.0.1 (production is RustFS).
# Usage: local_s3.sh start|stop [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
port="${2:-9000}"
state=.demo
mkdir -p "$state"
pidfile="$state/moto-$port.pid"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

case "$1" in
  start)
    if listening; then echo "local S3 already listening on 127.0.0.1:$port"; exit 0; fi
    nohup .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$state/moto-$port.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do listening && break; sleep 0.2; done
    listening || { echo "local S3 did not start; see $state/moto-$port.log" >&2; exit 1; }
    echo "local S3 (moto server) on http://127.0.0.1:$port"
    ;;
  stop)
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
  *) echo "usage: $0 start|stop [PORT]" >&2; exit 2 ;;
esac
