#!/usr/bin/env bash
# Starts the quickstart as a new user would and checks its routes with curl.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/start-quickstart.sh
ADDR=${KEYGATE_SMOKE_ADDR:-127.0.0.1:3917}
start_quickstart "$ADDR"
OUT=$QUICKSTART_OUT
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

# The commands the quickstart prints, run as printed and in the printed order on a fresh start:
# each comment's promise must hold (the burst loop: 200s, then 429s, never a 200 after a 429).
kill "$QUICKSTART_PID" 2>/dev/null || true; wait "$QUICKSTART_PID" 2>/dev/null || true
start_quickstart "${KEYGATE_SMOKE_ADDR2:-127.0.0.1:3918}"
commands=$(sed -n '/^Listening on/,$p' "$QUICKSTART_OUT" | grep '^  curl\|^  for')
[ "$(echo "$commands" | wc -l)" -eq 6 ] || { fail=$((fail + 1)); echo "FAILED: expected 6 printed commands, got:"; echo "$commands"; }
while IFS= read -r line; do
  out=$(bash -c "${line%%   #*}" 2>&1 < /dev/null) || true
  case "$line" in
    *'then 429'*)
      codes=$(echo "$out" | tr '\n' ' ')
      if echo "$codes" | grep -Eq '^(200 ){1,5}(429 )+$'; then
        pass=$((pass + 1)); echo "ok: the printed burst loop gives 200s, then 429 ($codes)"
      else
        fail=$((fail + 1)); echo "FAILED: the printed burst loop gave: $codes"
      fi ;;
    *'# 403'*)
      if echo "$out" | grep -q '^HTTP/1.1 403'; then pass=$((pass + 1)); echo "ok: printed command says 403 and gets it"
      else fail=$((fail + 1)); echo "FAILED: printed command promised 403:"; echo "$out" | head -n 1; fi ;;
  esac
done <<<"$commands"

echo "quickstart: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
