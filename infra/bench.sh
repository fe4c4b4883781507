#!/usr/bin/env bash
# The benchmark suite (PRODUCT.md §9): makes the venv (moto server), starts moto on a free
# loopback port, builds the Lambda binaries in debug and in release (the release build is the
# deploy build and takes several minutes on 2 cores: never run this in CI), builds the release
# harness and the floor, installs the Node.js peer (infra/node-peer.sh), runs
# target/release/wfm-relay-bench over both builds and stops moto, also on failure.
# Prints markdown tables (BENCHMARKS.md holds a copy). Extra arguments go to the harness, e.g.
#   infra/bench.sh --only cold,size --runs 50
# State (moto's log, the Lambda processes' logs, the zips) goes to .demo/bench-XXXXXX/ (gitignored).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=$("$repo/infra/venv.sh")
echo "== venv (moto server): $venv" >&2
mkdir -p "$repo/.demo"
state=$(mktemp -d "$repo/.demo/bench-XXXXXX")
trap '"$repo/infra/moto.sh" stop "$state"' EXIT
eval "$("$repo/infra/moto.sh" start "$state")"
echo "== moto server at $AWS_ENDPOINT_URL (log: ${state#"$repo"/}/moto.log)" >&2
lambdas=(--bin wfm-relay-forwarder --bin wfm-relay-replayer)
echo "== cargo build --locked ${lambdas[*]} (debug)" >&2
cargo build --locked "${lambdas[@]}"
# The Lambdas alone, as deployed: building them with other packages could unify extra features
# into their dependencies and change their size.
echo "== cargo build --locked --release ${lambdas[*]}" >&2
cargo build --locked --release "${lambdas[@]}"
echo "== cargo build --locked --release -p wfm-relay-bench -p wfm-relay-floor (the harness, the floor)" >&2
cargo build --locked --release -p wfm-relay-bench -p wfm-relay-floor
# The Node.js peer of the cold-start table (npm, with a native build the first time).
node_peer=$("$repo/infra/node-peer.sh")
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
echo "== wfm-relay-bench" >&2
"$target_dir/release/wfm-relay-bench" \
  --lambdas "release=$target_dir/release" --lambdas "debug=$target_dir/debug" \
  --package-dir "$target_dir/release" \
  --cmd "python-boto3=$venv/bin/python $repo/crates/wfm-relay-bench/peers/python_peer.py" \
  --cmd "node-sdk-v3=$node_peer" \
  --work-dir "$state" "$@"
