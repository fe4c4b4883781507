#!/usr/bin/env bash
# The chaos run: makes the venv (moto server), starts moto on a free loopback port, builds the
# forwarder and the chaos binary (debug), runs target/debug/wfm-relay-chaos and stops moto, also
# on failure. Exits non-zero when any event is lost. Extra arguments go to the chaos run, e.g.
#   infra/chaos.sh --events 300 --outage-s 5 --fault-rate 0.3
#   infra/chaos.sh --events 100 --outage-s 3 --inject-loss 3     # must fail
# State (moto's log, the Lambda processes' JSON logs) goes to .demo/chaos-XXXXXX/ (gitignored).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
echo "== venv (moto server): $("$repo/infra/venv.sh")"
mkdir -p "$repo/.demo"
state=$(mktemp -d "$repo/.demo/chaos-XXXXXX")
trap '"$repo/infra/moto.sh" stop "$state"' EXIT
eval "$("$repo/infra/moto.sh" start "$state")"
echo "== moto server at $AWS_ENDPOINT_URL (log: ${state#"$repo"/}/moto.log)"
echo "== cargo build --locked --bin wfm-relay-forwarder --bin wfm-relay-chaos"
cargo build --locked --bin wfm-relay-forwarder --bin wfm-relay-chaos
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
# Requests WFM never answers keep a socket open on the stand-in until the end of the run.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "== wfm-relay-chaos"
"$target_dir/debug/wfm-relay-chaos" --log-dir "$state" "$@"
