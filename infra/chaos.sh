#!/usr/bin/env bash
# The chaos run: makes the venv (moto server), starts moto on a free loopback port with the
# AWS-rules layer in front (infra/moto.sh; AWS_RULES=off for bare moto), builds the forwarder and
# the chaos binary (debug), runs target/debug/wfm-relay-chaos and stops moto, also on failure.
# The hostile mix is on unless --no-hostile: 1 % of the events carry U+FFFF / U+FFFE in an
# agent's status message, 1 % are 900 KB, and WFM answers 2 % with Retry-After of 1 h to 24 h
# (those stay in the retry queue, "queued, waiting for Retry-After"). Exits non-zero when any
# event is lost. At the end it counts the AWS-rules layer's refusals by code. Extra arguments go
# to the chaos run, e.g.
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
rc=0
"$target_dir/debug/wfm-relay-chaos" --log-dir "$state" "$@" || rc=$?
echo "== AWS-rules layer refusals (${state#"$repo"/}/aws-rules.log), by code"
if [ -f "$state/aws-rules.log" ]; then
  refusals=$(grep -E 'aws-rules: (request|batch entry) refused' "$state/aws-rules.log" |
    sed -E 's/.*code="?([A-Za-z.]+)"?.*/\1/' | sort | uniq -c || true)
  echo "${refusals:-none}"
else
  echo "(the layer is off: AWS_RULES=off)"
fi
exit "$rc"
