#!/usr/bin/env bash
# Starts moto server on a free loopback port, in the background.
# Usage: infra/moto.sh start <state-dir>   -> prints "export AWS_ENDPOINT_URL=..." lines to eval
#        infra/moto.sh stop <state-dir>
# The state dir holds moto.pid and moto.log. moto is installed by infra/venv.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?start|stop}
state=${2:?state directory}
mkdir -p "$state"
case "$cmd" in
  start)
    venv=$("$repo/infra/venv.sh")
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
    echo $! >"$state/moto.pid"
    for _ in $(seq 1 100); do
      if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
        echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$port"
        echo "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1"
        echo "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
        echo "unset AWS_PROFILE AWS_SESSION_TOKEN"
        exit 0
      fi
      sleep 0.2
    done
    echo "moto server did not become ready on port $port; log:" >&2
    cat "$state/moto.log" >&2
    kill "$(cat "$state/moto.pid")" 2>/dev/null || true
    exit 1
    ;;
  stop)
    if [ -f "$state/moto.pid" ]; then
      kill "$(cat "$state/moto.pid")" 2>/dev/null || true
      rm -f "$state/moto.pid"
    fi
    ;;
  *) echo "usage: $0 start|stop <state-dir>" >&2; exit 2 ;;
esac
