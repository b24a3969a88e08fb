#!/bin/sh
# GET /v1/records with an API key (curl 7.84 or later). On 429, wait the Retry-After seconds
# and try again.
#   API_KEY=demo_... sh request.sh          (API_URL: default http://127.0.0.1:3000/v1/records)
url=${API_URL:-http://127.0.0.1:3000/v1/records}
body=$(mktemp)
trap 'rm -f "$body"' EXIT

for attempt in 1 2 3 4 5; do
  set -- $(curl -sS -o "$body" -w '%{http_code} %header{retry-after}' \
    -H "Authorization: Bearer $API_KEY" "$url")
  status=$1 retry_after=${2:-1}
  if [ "$status" = 429 ]; then
    echo "429: retrying in ${retry_after}s (Retry-After)" >&2
    sleep "$retry_after"
    continue
  fi
  echo "HTTP $status"
  cat "$body"; echo
  [ "$status" -ge 200 ] && [ "$status" -lt 400 ]
  exit
done
echo "still rate-limited after 5 attempts" >&2
exit 1
