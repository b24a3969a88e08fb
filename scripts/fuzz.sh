#!/usr/bin/env bash
# Runs every fuzz target for a given time each (default 600 s) and prints libFuzzer's final
# statistics. New inputs go to fuzz/work/<target> (ignored by git); the checked-in seeds in
# fuzz/corpus/<target> are read, not written. A crash leaves its input in fuzz/artifacts/.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer's sanitizer flags are nightly-only
# rustc options; RUSTC_BOOTSTRAP=1 lets this machine's stable toolchain accept them.
#
#   scripts/fuzz.sh [seconds] [target ...]
#
# Targets: authorization_header, key_format, scopes, layer_request (whole requests through the
# layer), redis_reply (replies to the rate-limit script), sqlite_row and postgres_row (rows of a
# key database; postgres_row starts PostgreSQL with scripts/services.sh when no URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(authorization_header key_format scopes layer_request redis_reply sqlite_row postgres_row)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
# postgres_row writes rows into a real PostgreSQL.
if [[ " ${targets[*]} " == *" postgres_row "* ]] && [ -z "${KEYGATE_TEST_POSTGRES_URL:-}" ]; then
  eval "$(scripts/services.sh start)"
fi
for target in "${targets[@]}"; do
  mkdir -p "fuzz/work/$target"
  echo "== $target: ${secs}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 2>&1 | tee "fuzz/work/$target.log" | grep -E "^stat::number_of_executed_units|^stat::peak_rss|Done|ERROR|SUMMARY" || true
done
