#!/usr/bin/env bash
# The local end-to-end demo: makes the venv (moto server), starts moto on a free loopback port,
# builds the binaries (debug), runs target/debug/wfm-relay-demo and stops moto, also on failure.
# No Docker, no AWS account. Extra arguments go to the demo, e.g.
#   infra/demo.sh --events 50 --outage-s 4
# State (moto's log, the forwarder's JSON log) goes to .demo/run-XXXXXX/ (gitignored).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
echo "== venv (moto server): $("$repo/infra/venv.sh")"
mkdir -p "$repo/.demo"
state=$(mktemp -d "$repo/.demo/run-XXXXXX")
trap '"$repo/infra/moto.sh" stop "$state"' EXIT
# Assigned first: `eval "$(...)"` alone would hide a failed start (eval of nothing succeeds).
exports=$("$repo/infra/moto.sh" start "$state")
eval "$exports"
echo "== moto server at $MOTO_ENDPOINT_URL, AWS endpoint $AWS_ENDPOINT_URL (logs: ${state#"$repo"/}/)"
echo "== cargo build --locked --bins"
cargo build --locked --bins
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
echo "== wfm-relay-demo"
"$target_dir/debug/wfm-relay-demo" --log-dir "$state" "$@"
