#!/usr/bin/env bash
# Lints template.yaml with cfn-lint (offline, no AWS credentials; TOOLING.md "Templates").
# Usage: infra/lint-template.sh [extra cfn-lint args...]
# Exits non-zero when cfn-lint reports errors or warnings (cfn-lint's own exit code:
# 2 = error, 4 = warning, 8 = informational; informational findings are not fatal).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
VENV=$("$repo/infra/venv.sh")
cd "$repo"
rc=0
"$VENV/bin/cfn-lint" "$@" -- template.yaml || rc=$?
# cfn-lint's exit code is a bit mask; ignore the informational bit (8) only.
rc=$((rc & ~8))
if [ "$rc" -ne 0 ]; then
  echo "cfn-lint: template.yaml has errors or warnings (exit $rc)" >&2
  exit "$rc"
fi
echo "cfn-lint: template.yaml OK" >&2
