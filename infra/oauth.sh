#!/usr/bin/env bash
# Starts the test authorization server (npm oidc-provider, infra/oauth/server.mjs) on a free
# loopback port, in the background, with a fresh random client secret.
# Usage: infra/oauth.sh start <state-dir>   -> prints "export OAUTH_...=..." lines to eval
#        infra/oauth.sh stop <state-dir>
# The state dir holds oauth.pid and oauth.log. Dependencies come from the committed lock file
# (`npm ci`, run again only when package-lock.json changed). Needs Node.js >= 20.19 and npm.
# OAUTH_TOKEN_TTL_S (default 5) sets the access token lifetime.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir="$repo/infra/oauth"
cmd=${1:?start|stop}
state=${2:?state directory}
mkdir -p "$state"
case "$cmd" in
  start)
    command -v node >/dev/null || { echo "node (Node.js >= 20.19) is required for the OAuth test server" >&2; exit 1; }
    if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
    client_secret=$(secret)
    introspection_secret=$(secret)
    ttl=${OAUTH_TOKEN_TTL_S:-5}
    OAUTH_PORT=$port OAUTH_TOKEN_TTL_S=$ttl \
      OAUTH_CLIENT_ID=wfm-relay OAUTH_CLIENT_SECRET=$client_secret \
      OAUTH_INTROSPECTION_CLIENT_ID=scripted-wfm OAUTH_INTROSPECTION_SECRET=$introspection_secret \
      node "$dir/server.mjs" >"$state/oauth.log" 2>&1 &
    echo $! >"$state/oauth.pid"
    issuer="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
      if python3 -c "import urllib.request; urllib.request.urlopen('$issuer/.well-known/openid-configuration', timeout=1)" 2>/dev/null; then
        echo "export OAUTH_ISSUER=$issuer"
        echo "export OAUTH_TOKEN_URL=$issuer/token"
        echo "export OAUTH_INTROSPECTION_URL=$issuer/token/introspection"
        echo "export OAUTH_CLIENT_ID=wfm-relay OAUTH_CLIENT_SECRET=$client_secret"
        echo "export OAUTH_INTROSPECTION_CLIENT_ID=scripted-wfm OAUTH_INTROSPECTION_SECRET=$introspection_secret"
        echo "export OAUTH_TOKEN_TTL_S=$ttl"
        exit 0
      fi
      sleep 0.2
    done
    echo "the OAuth test server did not become ready on port $port; log:" >&2
    cat "$state/oauth.log" >&2
    kill "$(cat "$state/oauth.pid")" 2>/dev/null || true
    exit 1
    ;;
  stop)
    if [ -f "$state/oauth.pid" ]; then
      kill "$(cat "$state/oauth.pid")" 2>/dev/null || true
      rm -f "$state/oauth.pid"
    fi
    ;;
  *) echo "usage: $0 start|stop <state-dir>" >&2; exit 2 ;;
esac
