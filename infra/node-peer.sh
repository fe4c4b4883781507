#!/usr/bin/env bash
# Installs the Node.js peer of the cold-start benchmark (crates/wfm-relay-bench/peers/node:
# @aws-sdk/client-sqs v3 under aws-lambda-ric@3.3.0, the last release of the Runtime Interface
# Client that runs on Node.js 20) into its own node_modules, from the committed lock file, and
# prints the command that runs it (for `wfm-relay-bench --cmd "node-sdk-v3=<command>"`).
# aws-lambda-ric builds curl and aws-lambda-cpp from source when it installs: it needs cmake,
# autoconf, automake, libtool, make and g++; the missing ones are installed with apt-get when this
# runs as root (Debian / Ubuntu), else the script stops naming them. Installs only once (again
# when package-lock.json changed). Takes several minutes on 2 cores the first time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir="$repo/crates/wfm-relay-bench/peers/node"
command -v node >/dev/null || { echo "node (Node.js 20) is required for the Node.js peer" >&2; exit 1; }
if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  missing=()
  for tool in cmake:cmake autoconf:autoconf automake:automake libtoolize:libtool make:make g++:g++; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "== apt-get install ${missing[*]} (aws-lambda-ric's native build)" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
      echo "aws-lambda-ric's native build needs: ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "== npm ci in ${dir#"$repo"/} (builds aws-lambda-ric's native part)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "node $dir/node_modules/aws-lambda-ric/bin/index.mjs $dir/index.handler"
