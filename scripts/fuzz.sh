#!/usr/bin/env bash
# Runs every fuzz target for a given time each (default 600 s) and prints libFuzzer's final
# statistics. New inputs go to fuzz/work/<target> (ignored by git); the checked-in seeds in
# fuzz/corpus/<target> are read, not written. A crash leaves its input in fuzz/artifacts/.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer's sanitizer flags are nightly-only
# rustc options; RUSTC_BOOTSTRAP=1 lets this machine's stable toolchain accept them.
#
#   scripts/fuzz.sh [seconds] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(authorization_header key_format scopes layer_request)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
for target in "${targets[@]}"; do
  mkdir -p "fuzz/work/$target"
  echo "== $target: ${secs}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 2>&1 | tee "fuzz/work/$target.log" | grep -E "^stat::number_of_executed_units|^stat::peak_rss|Done|ERROR|SUMMARY" || true
done
