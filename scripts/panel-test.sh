#!/usr/bin/env bash
# The API Keys panel in a real browser: builds examples/server.rs, starts it on a temporary
# database and a free loopback port, and runs the Selenium suite of tests/browser/ against it
# in headless Chromium. Screenshots of the main states go to $PANEL_SCREENSHOTS
# (default target/panel-screenshots).
#
# Needs Debian's `chromium` and `chromium-driver` and Python's `selenium` and `pytest`: as root
# it installs what is missing (apt-get, pip); otherwise it says what to install. With
# KEYGATE_REQUIRE_BACKENDS=1 or CI=true a missing browser is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

required=0
if [ "${KEYGATE_REQUIRE_BACKENDS:-}" = 1 ] || [ "${CI:-}" = true ]; then required=1; fi

missing_apt=()
command -v chromium >/dev/null || missing_apt+=(chromium)
command -v chromedriver >/dev/null || missing_apt+=(chromium-driver)
missing_pip=()
python3 -c 'import selenium' 2>/dev/null || missing_pip+=(selenium)
python3 -c 'import pytest' 2>/dev/null || missing_pip+=(pytest)

if [ ${#missing_apt[@]} -gt 0 ] || [ ${#missing_pip[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    if [ ${#missing_apt[@]} -gt 0 ]; then
      echo "panel-test: installing ${missing_apt[*]} with apt-get" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_apt[@]}" >/dev/null
    fi
    if [ ${#missing_pip[@]} -gt 0 ]; then
      echo "panel-test: installing ${missing_pip[*]} with pip" >&2
      python3 -m pip install --quiet "${missing_pip[@]}" \
        || python3 -m pip install --quiet --break-system-packages "${missing_pip[@]}"
    fi
  else
    echo "panel-test: the browser suite needs what is missing here:" >&2
    if [ ${#missing_apt[@]} -gt 0 ]; then echo "  sudo apt-get install ${missing_apt[*]}" >&2; fi
    if [ ${#missing_pip[@]} -gt 0 ]; then echo "  python3 -m pip install ${missing_pip[*]}" >&2; fi
    if [ "$required" = 1 ]; then
      echo "panel-test: FAILED: the browser suite is required here (CI or KEYGATE_REQUIRE_BACKENDS=1)" >&2
      exit 1
    fi
    echo "panel-test: SKIPPED: the browser suite did not run" >&2
    exit 0
  fi
fi

# The server and the CLI that makes a second workspace on its database, in one build.
cargo build --quiet --example server --bin keygate --features sqlite,panel,cli
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
server="$target_dir/debug/examples/server"

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$server" --db "$work/keys.db" --addr "127.0.0.1:$port" >"$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^Listening on' "$work/server.out" && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "panel-test: the server stopped:" >&2; cat "$work/server.out" >&2; exit 1
  fi
  sleep 0.1
done
grep -q '^Listening on' "$work/server.out" || { echo "panel-test: the server did not start" >&2; exit 1; }
# The line after "created the key `admin`" holds its plaintext.
admin_key=$(sed -n '/created the key `admin`/{n;s/^ *//;p;q}' "$work/server.out")
[ -n "$admin_key" ] || { echo "panel-test: the server printed no admin key" >&2; exit 1; }

# The operator makes a second workspace with the CLI, on the running server's database: its
# admin key, and a key whose name `default` will use too.
cli="$target_dir/debug/keygate"
other_admin_key=$("$cli" create --db "$work/keys.db" --workspace globex --name admin --scope admin --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
"$cli" create --db "$work/keys.db" --workspace globex --name ci-pipeline --scope read:all >/dev/null

# A third workspace with more keys than one page of GET /keys holds: its admin key, and 505
# keys imported by digest in one run of the CLI.
paged_admin_key=$("$cli" create --db "$work/keys.db" --workspace initech --name admin --scope admin --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
python3 - "$work/bulk.jsonl" <<'PY'
import hashlib, json, os, sys
with open(sys.argv[1], "w") as out:
    for n in range(505):
        digest = hashlib.sha256(os.urandom(32)).hexdigest()
        out.write(json.dumps({"digest": digest, "name": f"bulk-{n:03}", "scopes": ["read:all"]}) + "\n")
PY
"$cli" import --db "$work/keys.db" --workspace initech --file "$work/bulk.jsonl" >/dev/null

export PANEL_URL="http://127.0.0.1:$port" PANEL_ADMIN_KEY="$admin_key" PANEL_OTHER_ADMIN_KEY="$other_admin_key"
export PANEL_PAGED_ADMIN_KEY="$paged_admin_key"
export PANEL_SCREENSHOTS="${PANEL_SCREENSHOTS:-$target_dir/panel-screenshots}"
# Selenium must not look for drivers on the network: Debian's chromedriver is on PATH.
export SE_OFFLINE=true PYTHONDONTWRITEBYTECODE=1
python3 -m pytest -p no:cacheprovider -v tests/browser
echo "panel-test: screenshots in $PANEL_SCREENSHOTS"
