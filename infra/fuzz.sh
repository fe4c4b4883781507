#!/usr/bin/env bash
# Coverage-guided fuzzing of wfm-relay-core's input parsers (cargo-fuzz + libFuzzer, the fuzz/
# crate; targets: envelope_parser, retry_after, dead_letter_decoder).
#
# Usage: infra/fuzz.sh [seconds-per-target] [target...]   (default 60 s, all targets)
#   After a parser change: infra/fuzz.sh 60   (not a CI step: README "Testing")
#   Long run: infra/fuzz.sh 3600      (an hour per target; run it before a release or after
#                                      changing event.rs, policy.rs, envelope.rs or replay.rs)
#
# Toolchain: cargo-fuzz needs nightly-only rustc flags (-Zsanitizer=address, sanitizer coverage);
# our single stable toolchain accepts them with RUSTC_BOOTSTRAP=1, set for this script only. The
# fuzz crate has its own workspace and target dir (fuzz/target), so these flags never touch the
# main workspace's build. Its Cargo.lock is copied from the root one on every run (and not
# committed), so wfm-relay-core is fuzzed with exactly the dependency versions it ships with.
#
# Each target starts from its seeds in fuzz/corpus/<target>/ (kept in git, never written to) plus
# what earlier runs on this machine found (fuzz/target/corpus/<target>/, where libFuzzer adds new
# inputs). A crash (panic, failed assertion, sanitizer report) or a single input running longer
# than 10 s fails the script; the input is saved under fuzz/artifacts/<target>/ and the command to
# minimise it is printed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
# cargo-fuzz version, pinned (crates.io); `cargo install --locked` takes ~1.5 min on 2 cores and
# the binary stays in ~/.cargo/bin, so later runs on the same machine skip it.
CARGO_FUZZ_VERSION=0.13.2

if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: infra/fuzz.sh [seconds-per-target] [target...]" >&2
  exit 2
fi
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$repo/fuzz/target"
cd "$repo/fuzz"
cp "$repo/Cargo.lock" Cargo.lock
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

echo "== cargo fuzz build (address sanitizer, release with debug assertions)" >&2
cargo fuzz build

failed=()
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${secs}s" >&2
  mkdir -p "target/corpus/$t"
  rc=0
  cargo fuzz run "$t" "target/corpus/$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -print_final_stats=1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "!! $t failed (exit $rc); inputs: $(ls -d "$repo/fuzz/artifacts/$t"/* 2>/dev/null | tr '\n' ' ')" >&2
    echo "   minimise: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz tmin $t <artifact>)" >&2
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${targets[*]}: no crash in ${secs}s each" >&2
