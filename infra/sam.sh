#!/usr/bin/env bash
# Makes (or reuses) the venv with SAM CLI and cargo-lambda (infra/sam-requirements.txt), apart
# from the project's main venv because their pins conflict (TOOLING.md), and prints its path.
# Usage: infra/sam.sh                 -> prints the venv path
#        infra/sam.sh sam build ...   -> runs the command with the venv's bin first on PATH
# Env:   WFM_RELAY_SAM_VENV (default: <repo>/.venv-sam, gitignored)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${WFM_RELAY_SAM_VENV:-$repo/.venv-sam}
stamp="$venv/.wfm-relay-sam-requirements"
req="$repo/infra/sam-requirements.txt"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
  cp "$req" "$stamp"
fi
if [ "$#" -eq 0 ]; then
  echo "$venv"
  exit 0
fi
# sam's rust-cargolambda build method runs `cargo lambda`, which finds zig via `python3 -m
# ziglang`: both need the venv's bin first on PATH. SAM_CLI_TELEMETRY=0: no usage reports.
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0
exec "$@"
