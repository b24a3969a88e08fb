# Sourced by scripts/smoke-quickstart.sh and scripts/clients-test.sh (bash): starts the
# quickstart as a new user would and reads the keys it prints.
#
#   start_quickstart HOST:PORT   builds and starts it in the background, waits until it
#                                answers, sets ADMIN, CI and DEV to the demo keys and
#                                QUICKSTART_OUT to its output; stops it on EXIT.

command -v curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl; }

start_quickstart() {
  local addr=$1 target_dir
  QUICKSTART_OUT=$(mktemp)
  cargo build --quiet --example quickstart
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  "$target_dir/debug/examples/quickstart" --addr "$addr" >"$QUICKSTART_OUT" 2>&1 &
  QUICKSTART_PID=$!
  trap 'kill $QUICKSTART_PID 2>/dev/null || true; rm -f "$QUICKSTART_OUT"' EXIT

  for _ in $(seq 1 100); do
    grep -q '^Listening on' "$QUICKSTART_OUT" && curl -s -o /dev/null "http://$addr/" && break
    sleep 0.1
  done

  ADMIN=$(quickstart_key production-backend); CI=$(quickstart_key ci-pipeline); DEV=$(quickstart_key local-dev)
  [ -n "$ADMIN" ] && [ -n "$CI" ] && [ -n "$DEV" ] || { echo "quickstart printed no keys:"; cat "$QUICKSTART_OUT"; exit 1; }
}

quickstart_key() { awk -v n="$1" '$1 == "key" && $2 == n { print $4 }' "$QUICKSTART_OUT"; }
