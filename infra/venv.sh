#!/usr/bin/env bash
# Makes (or reuses) the project's Python venv with the local AWS stand-ins and template linters.
# Usage: infra/venv.sh            -> prints the venv path
# Env:   WFM_RELAY_VENV (default: <repo>/.venv)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${WFM_RELAY_VENV:-$repo/.venv}
stamp="$venv/.wfm-relay-requirements"
req="$repo/infra/requirements.txt"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv"
