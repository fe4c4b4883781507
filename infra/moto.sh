#!/usr/bin/env bash
# Starts moto server on a free loopback port, in the background, and in front of it the AWS-rules
# layer (wfm-relay-aws-rules: what real AWS refuses and moto accepts; README "Testing"), built
# first. AWS_ENDPOINT_URL points at the layer, MOTO_ENDPOINT_URL at moto itself.
# AWS_RULES=off starts moto alone (AWS_ENDPOINT_URL = MOTO_ENDPOINT_URL = moto).
# AWS_RULES_S3_PAGE_SIZE sets the layer's ListObjectsV2 page size (default 1000).
# Usage: infra/moto.sh start <state-dir>   -> prints "export AWS_ENDPOINT_URL=..." lines to eval
#        infra/moto.sh stop <state-dir>
# The state dir holds moto.pid, moto.log, aws-rules.pid and aws-rules.log. moto is installed by
# infra/venv.sh. Everything but the export lines goes to stderr.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?start|stop}
state=${2:?state directory}
mkdir -p "$state"
stop_pid() {
  if [ -f "$state/$1.pid" ]; then
    kill "$(cat "$state/$1.pid")" 2>/dev/null || true
    rm -f "$state/$1.pid"
  fi
}
ready() {
  python3 -c "import urllib.request; urllib.request.urlopen('$1/moto-api/', timeout=1)" 2>/dev/null
}
case "$cmd" in
  start)
    venv=$("$repo/infra/venv.sh")
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
    echo $! >"$state/moto.pid"
    moto="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do ready "$moto" && break; sleep 0.2; done
    if ! ready "$moto"; then
      echo "moto server did not become ready on port $port; log:" >&2
      cat "$state/moto.log" >&2
      stop_pid moto
      exit 1
    fi
    endpoint=$moto
    if [ "${AWS_RULES:-on}" != "off" ]; then
      (cd "$repo" && cargo build --locked -p wfm-relay-local --bin wfm-relay-aws-rules) >&2
      target_dir=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
      rm -f "$state/aws-rules.url"
      "$target_dir/debug/wfm-relay-aws-rules" --upstream "$moto" --url-file "$state/aws-rules.url" \
        >"$state/aws-rules.log" 2>&1 &
      echo $! >"$state/aws-rules.pid"
      for _ in $(seq 1 100); do [ -s "$state/aws-rules.url" ] && break; sleep 0.1; done
      if [ ! -s "$state/aws-rules.url" ] || ! ready "$(cat "$state/aws-rules.url")"; then
        echo "the AWS-rules layer did not start; log:" >&2
        cat "$state/aws-rules.log" >&2
        stop_pid aws-rules
        stop_pid moto
        exit 1
      fi
      endpoint=$(cat "$state/aws-rules.url")
    fi
    echo "export AWS_ENDPOINT_URL=$endpoint MOTO_ENDPOINT_URL=$moto"
    echo "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1"
    echo "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    echo "unset AWS_PROFILE AWS_SESSION_TOKEN"
    ;;
  stop)
    stop_pid aws-rules
    stop_pid moto
    ;;
  *) echo "usage: $0 start|stop <state-dir>" >&2; exit 2 ;;
esac
