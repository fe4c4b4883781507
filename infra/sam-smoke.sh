#!/usr/bin/env bash
# Smoke test of the artefact users deploy: starts moto (infra/moto.sh, with the AWS-rules layer)
# on a free port and runs wfm-relay-sam-smoke, which starts every bootstrap of `sam build`'s
# output behind the local Lambda Runtime API and checks that each answers one invocation (and is
# an ELF for the architecture built). Run `infra/sam.sh sam build --config-env x86_64` first.
# sam build builds every function whatever its Condition (SAM CLI does not evaluate resource
# Conditions), so the build holds the snapshot function (HasSnapshotSchedule) too; the smoke
# fails when it is missing, and gives it a Genesys API stand-in and a dry-run snapshot.
# Usage: infra/sam-smoke.sh [--build-dir DIR] [--arch x86_64]   (extra args go to the binary)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if command -v file >/dev/null; then
  file .aws-sam/build/*/bootstrap || true
fi
cargo build --locked -p wfm-relay-local --bin wfm-relay-sam-smoke
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p "$repo/.demo"
state=$(mktemp -d "$repo/.demo/sam-smoke-XXXXXX")
trap '"$repo/infra/moto.sh" stop "$state"' EXIT
eval "$("$repo/infra/moto.sh" start "$state")"
"$target_dir/debug/wfm-relay-sam-smoke" --build-dir .aws-sam/build --arch x86_64 \
  --log-dir "$state" "$@"
