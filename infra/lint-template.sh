#!/usr/bin/env bash
# Lints template.yaml offline (no AWS credentials; TOOLING.md "Templates"):
#   1. cfn-lint: errors and warnings fail (exit 2 = error, 4 = warning; 8 = informational, not
#      fatal);
#   2. checkov (CloudFormation framework, which reads the SAM resources too): any failed check
#      fails. Accepted findings are skipped in the template itself, each with its reason
#      (Metadata: checkov: skip: - id / comment).
# Usage: infra/lint-template.sh [extra cfn-lint args...]
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
# --skip-download: no calls to Prisma Cloud for guidelines (offline; without it checkov prints a
# connection traceback and goes on). checkov exits 1 when a check fails, but 0 with no output
# when it cannot parse the file, so its summary line must be there too.
rc=0
out=$("$VENV/bin/checkov" -f template.yaml --framework cloudformation --quiet --compact \
  --skip-download) || rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  echo "checkov: template.yaml has failed checks (exit $rc)" >&2
  exit "$rc"
fi
if ! grep -Eq 'Passed checks: [1-9][0-9]*, Failed checks: 0,' <<<"$out"; then
  echo "checkov: no scan results for template.yaml (not parsed as CloudFormation?)" >&2
  exit 1
fi
echo "checkov: template.yaml OK" >&2
