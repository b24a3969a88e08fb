#!/usr/bin/env bash
# Runs the client snippets of examples/clients/ (cURL, Python requests, Node fetch) against
# the quickstart: each must get the 200, the 401 with an empty key, and ride out a 429 by
# waiting its Retry-After. Installs requests with pip when missing; needs node 18 or later.
set -uo pipefail
cd "$(dirname "$0")/.."

. scripts/start-quickstart.sh
set -e
ADDR=${KEYGATE_CLIENTS_ADDR:-127.0.0.1:3918}
start_quickstart "$ADDR"
python3 -c 'import requests' 2>/dev/null || python3 -m pip install --quiet requests
set +e
export API_URL="http://$ADDR/v1/records"

pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
failed() { fail=$((fail + 1)); echo "FAILED: $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/  | /'; }

# Runs the client with local-dev's key while plain requests keep its burst spent, until the
# client reports its 429; then lets it wait out Retry-After alone. (A token refilled between
# two of those requests can still reach the client first: then it gets a 200 at once, and
# the run proves nothing. The caller tries again.)
run_rate_limited() {
  local out=$1 codes hammer client; shift
  codes=$(mktemp)
  ( for _ in $(seq 1 400); do
      curl -s -o /dev/null -w '%{http_code}\n' "$API_URL" -H "Authorization: Bearer $DEV"; sleep 0.02
    done ) >"$codes" &
  hammer=$!
  for _ in $(seq 1 200); do grep -q '^429$' "$codes" && break; sleep 0.05; done
  API_KEY=$DEV "$@" >"$out" 2>&1 &
  client=$!
  for _ in $(seq 1 400); do
    grep -q '^429: ' "$out" && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.05
  done
  kill "$hammer" 2>/dev/null; wait "$hammer" 2>/dev/null; rm -f "$codes"
  wait "$client"
}

check_client() { # check_client <name> <command...>
  local name=$1 out; shift
  if ! command -v "$1" >/dev/null 2>&1; then
    failed "$name: $1 is not installed"; failed "$name: 401 not tried"; failed "$name: 429 not tried"; return
  fi

  out=$(API_KEY=$CI "$@" 2>&1) && grep -qx 'HTTP 200' <<<"$out" && grep -q '"records"' <<<"$out" \
    && ok "$name: 200 with a key" || failed "$name: expected HTTP 200 with a key" "$out"

  out=$(API_KEY= "$@" 2>&1); local code=$?
  [ "$code" -ne 0 ] && grep -qx 'HTTP 401' <<<"$out" \
    && ok "$name: 401 with an empty key" || failed "$name: expected HTTP 401 with an empty key (exit $code)" "$out"

  local log try; log=$(mktemp)
  for try in 1 2 3; do
    run_rate_limited "$log" "$@"; code=$?; out=$(cat "$log")
    grep -q '^429: ' <<<"$out" || ! grep -qx 'HTTP 200' <<<"$out" || [ "$try" -eq 3 ] && break
    echo "  ($name got a refilled token before any 429; trying again)"
  done
  rm -f "$log"
  [ "$code" -eq 0 ] && grep -qx '429: retrying in [1-9][0-9]*s (Retry-After)' <<<"$out" \
    && grep -qx 'HTTP 200' <<<"$out" \
    && ok "$name: 429 read Retry-After, waited, then 200" || failed "$name: expected a 429, a wait of Retry-After, then 200 (exit $code)" "$out"
}

# The README shows the snippets as they are here.
for snippet in examples/clients/request.sh examples/clients/request.py examples/clients/request.mjs; do
  python3 -c 'import sys; sys.exit(open(sys.argv[1]).read() not in open("README.md").read())' "$snippet" \
    && ok "README shows $snippet as it is" || failed "README does not show $snippet as it is"
done

check_client cURL sh examples/clients/request.sh
check_client Python python3 examples/clients/request.py
check_client JavaScript node examples/clients/request.mjs

echo "clients: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
