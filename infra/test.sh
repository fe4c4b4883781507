#!/usr/bin/env bash
# The test command: makes the venv (moto server, cfn-lint), starts moto on a free loopback port
# with the AWS-rules layer in front of it (infra/moto.sh; AWS_RULES=off for moto alone), builds
# the Lambda binaries, runs `cargo test --locked` against it, and stops both.
# Extra arguments go to `cargo test` (e.g. `infra/test.sh c05`).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
state=$(mktemp -d "${TMPDIR:-/tmp}/wfm-relay-test.XXXXXX")
trap 'rc=$?; "$repo/infra/oauth.sh" stop "$state"; "$repo/infra/moto.sh" stop "$state"; if [ "$rc" -eq 0 ]; then rm -rf "$state"; fi' EXIT
# Assigned first: `eval "$(...)"` alone would hide a failed start (eval of nothing succeeds).
exports=$("$repo/infra/moto.sh" start "$state")
eval "$exports"
echo "moto server at $MOTO_ENDPOINT_URL, AWS endpoint $AWS_ENDPOINT_URL (logs: $state/)"
exports=$("$repo/infra/oauth.sh" start "$state")  # OAuth 2.0 test server (npm oidc-provider)
eval "$exports"
echo "OAuth test server at $OAUTH_ISSUER (log: $state/oauth.log)"
export WFM_RELAY_PYTHON="$("$repo/infra/venv.sh")/bin/python"  # the Standard Webhooks reference verifier
cargo build --locked --bins
cargo test --locked --workspace "$@"
