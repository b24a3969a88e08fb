#!/usr/bin/env bash
# Starts the quickstart as a new user would and checks its routes with curl.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl; }

ADDR=${KEYGATE_SMOKE_ADDR:-127.0.0.1:3917}
OUT=$(mktemp)
cargo build --quiet --example quickstart
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
"$target_dir/debug/examples/quickstart" --addr "$ADDR" >"$OUT" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$OUT"' EXIT

for _ in $(seq 1 100); do
  grep -q '^Listening on' "$OUT" && curl -s -o /dev/null "http://$ADDR/" && break
  sleep 0.1
done

key() { awk -v n="$1" '$1 == "key" && $2 == n { print $4 }' "$OUT"; }
ADMIN=$(key production-backend); CI=$(key ci-pipeline); DEV=$(key local-dev)
[ -n "$ADMIN" ] && [ -n "$CI" ] && [ -n "$DEV" ] || { echo "quickstart printed no keys:"; cat "$OUT"; exit 1; }
grep -qx "key production-backend admin $ADMIN" "$OUT"
grep -qx "key ci-pipeline read:all,write:all $CI" "$OUT"
grep -qx "key local-dev read:all $DEV" "$OUT"

pass=0; fail=0
expect() { # expect <status> <description> <curl args...>
  local want=$1 what=$2; shift 2
  local got; got=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  if [ "$got" = "$want" ]; then pass=$((pass + 1)); echo "ok: $what ($got)";
  else fail=$((fail + 1)); echo "FAILED: $what: expected $want, got $got"; fi
}
B="http://$ADDR"
expect 200 "GET /v1/records with read:all" "$B/v1/records" -H "Authorization: Bearer $CI"
expect 401 "GET /v1/records without a key" "$B/v1/records"
expect 401 "GET /v1/records with a mistyped key" "$B/v1/records" -H "Authorization: Bearer ${DEV}x"
expect 403 "POST /v1/records with read:all only" -X POST "$B/v1/records" -H "Authorization: Bearer $DEV" -d r
expect 201 "POST /v1/records with write:all" -X POST "$B/v1/records" -H "Authorization: Bearer $CI" -d r
expect 403 "GET /v1/admin/keys without admin" "$B/v1/admin/keys" -H "Authorization: Bearer $CI"
expect 200 "GET /v1/admin/keys with admin" "$B/v1/admin/keys" -H "Authorization: Bearer $ADMIN"
# local-dev: a burst of 5 (its 403 above spent none of it), then 429.
for i in 1 2 3 4 5; do expect 200 "local-dev request $i of its burst" "$B/v1/records" -H "Authorization: Bearer $DEV"; done
headers=$(curl -s -D - -o /dev/null "$B/v1/records" -H "Authorization: Bearer $DEV")
if echo "$headers" | grep -q '^HTTP/1.1 429' && echo "$headers" | grep -qi '^retry-after: [1-9]'; then
  pass=$((pass + 1)); echo "ok: local-dev over its quota gets 429 with Retry-After"
else
  fail=$((fail + 1)); echo "FAILED: expected 429 with Retry-After, got:"; echo "$headers"
fi
echo "quickstart: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
