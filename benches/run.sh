#!/usr/bin/env bash
# Runs every benchmark and writes benches/RESULTS.md (the table the README shows):
#   1. criterion: floor, success path beside the peers, reject paths, store size, threads;
#   2. memory: bytes per tracked key, eviction, allocations per request;
#   3. timing: Welch t statistics of the wrong-key classes;
#   4. end to end over loopback HTTP: axum hello-world bare and behind keygate, driven by wrk.
# Usage: benches/run.sh   (about 5 minutes on 2 cores; a quiet machine gives stable figures)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benches/RESULTS.md
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

cargo bench --quiet --bench layer -- --noplot >/tmp/keygate-criterion.log 2>&1 || { cat /tmp/keygate-criterion.log; exit 1; }
memory=$(cargo bench --quiet --bench memory 2>/dev/null)
redis_rates="(set KEYGATE_TEST_REDIS_URL to measure the Redis limiter)"
if [ -n "${KEYGATE_TEST_REDIS_URL:-}" ]; then
  redis_rates=$(cargo bench --quiet --features redis --bench redis_throughput 2>/dev/null)
  port=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port or 6379)' "$KEYGATE_TEST_REDIS_URL")
  sha=$(redis-cli -p "$port" SCRIPT LOAD "$(cat src/limit/gcra.lua)")
  for c in 1 64; do
    rps=$(redis-benchmark -p "$port" -n 200000 -c "$c" -q EVALSHA "$sha" 1 "keygate:bench:ceiling:$c" 1 1125899906842624 \
      | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -n 1 | awk '{printf "%.0f", $1}')
    redis_rates="$redis_rates
| $c (redis-benchmark, same script, no client library: the ceiling) | $rps | |"
  done
fi
lookups="(set KEYGATE_TEST_POSTGRES_URL to measure PostgreSQL through the cache)"
if [ -n "${KEYGATE_TEST_POSTGRES_URL:-}" ]; then
  cargo bench --quiet --features postgres,cache --bench store_lookup -- --noplot >/tmp/keygate-lookup.log 2>&1
  lookups=$(python3 - "$target_dir" <<'PY'
import json, os, sys
base = os.path.join(sys.argv[1], "criterion", "lookup")
print("| lookup | ns |")
print("|---|---:|")
for name in ["memory", "cached_memory_hit", "cached_postgres_hit", "postgres_round_trip"]:
    path = os.path.join(base, name, "new", "estimates.json")
    if os.path.exists(path):
        print(f"| {name.replace('_', ' ')} | {json.load(open(path))['mean']['point_estimate']:.0f} |")
PY
)
fi
timing=$(KEYGATE_TIMING_SAMPLES=${KEYGATE_TIMING_SAMPLES:-200000} cargo bench --quiet --bench timing 2>/dev/null)

# End to end with wrk.
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --quiet --release --example e2e_server
e2e() { # e2e <mode> <port> -> requests/s
  local mode=$1 port=$2 log; log=$(mktemp)
  "$target_dir/release/examples/e2e_server" --mode "$mode" --addr "127.0.0.1:$port" >"$log" &
  local pid=$!
  for _ in $(seq 1 50); do grep -q '^key' "$log" && break; sleep 0.1; done
  local key; key=$(awk '/^key/ {print $2}' "$log")
  local header=()
  [ "$key" != none ] && header=(-H "Authorization: Bearer $key")
  wrk -t1 -c32 -d"${KEYGATE_E2E_SECS:-5}"s "${header[@]}" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}'
  kill $pid; wait $pid 2>/dev/null || true; rm -f "$log"
}
bare_rps=$(e2e bare 3911)
keygate_rps=$(e2e keygate 3912)

python3 - "$target_dir" "$bare_rps" "$keygate_rps" >"$out.tmp" <<'PY'
import json, os, sys, platform, subprocess
target, bare_rps, keygate_rps = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def ns(path):
    with open(os.path.join(target, "criterion", path, "new", "estimates.json")) as f:
        return json.load(f)["mean"]["point_estimate"]
f = {k: ns("floor/" + k) for k in ["sha256_secret_part_43b", "sha256_whole_key", "digest_ct_eq", "subtle_ct_eq_bytewise", "store_hit_among_100k", "gcra_update"]}
s = {k: ns("success/" + k) for k in ["bare", "keygate", "keygate_without_headers", "tower_http_bearer", "tower_http_bearer_governor"]}
r = {k: ns("reject/" + k) for k in ["missing_401", "malformed_401", "unknown_id_401", "wrong_secret_401", "revoked_401", "insufficient_scope_403", "rate_limited_429"]}
z = {k: ns("store_size/" + k) for k in ["1", "1000", "100000", "1000000"]}
t = {k: ns("threads/" + k) for k in ["1_thread", "2_threads_same_key", "2_threads_different_keys"]}
floor = f["sha256_secret_part_43b"] + f["digest_ct_eq"] + f["store_hit_among_100k"] + f["gcra_update"]
over = s["keygate"] - s["bare"]
peer1 = s["tower_http_bearer"] - s["bare"]
peer2 = s["tower_http_bearer_governor"] - s["bare"]
def ok(cond): return "met" if cond else "**missed**"
cpu = "unknown"
try:
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
except Exception:
    pass
print(f"Machine: {os.cpu_count()} vCPU, {cpu}, {platform.system()} {platform.release()}; rustc {subprocess.run(['rustc','--version'],capture_output=True,text=True).stdout.strip()}.")
print()
print("| measure | ns | note |")
print("|---|---:|---|")
print(f"| floor: SHA-256 of the secret part (43 B, one block) | {f['sha256_secret_part_43b']:.1f} | the whole 67-char key would cost {f['sha256_whole_key']:.1f} (two blocks) |")
print(f"| floor: digest compare (4 × u64, `subtle`) | {f['digest_ct_eq']:.1f} | byte-wise `subtle` `ct_eq`: {f['subtle_ct_eq_bytewise']:.1f} |")
print(f"| floor: store hit among 100k keys | {f['store_hit_among_100k']:.1f} | |")
print(f"| floor: one GCRA update (CAS + clock) | {f['gcra_update']:.1f} | |")
print(f"| **floor (sum)** | **{floor:.1f}** | |")
print(f"| stack: bare `service_fn` | {s['bare']:.1f} | request built per call, same for every stack |")
print(f"| stack: + keygate (auth, scope, limit, headers) | {s['keygate']:.1f} | overhead {over:.1f} = **{over/floor:.2f} × floor** (target ≤ 2: {ok(over <= 2*floor)}) |")
quiet = s["keygate_without_headers"] - s["bare"]
print(f"| stack: + keygate without rate-limit headers | {s['keygate_without_headers']:.1f} | overhead {quiet:.1f} = {quiet/floor:.2f} × floor |")
print(f"| stack: + tower-http `bearer` (static token) | {s['tower_http_bearer']:.1f} | overhead {peer1:.1f} |")
print(f"| stack: + tower-http `bearer` + tower-governor by token | {s['tower_http_bearer_governor']:.1f} | overhead {peer2:.1f}; keygate / peers = **{over/peer2:.2f}**, without headers **{quiet/peer2:.2f}** (target ≤ 1: {ok(over <= peer2)}) |")
for k, v in r.items():
    print(f"| reject: {k.replace('_', ' ')} | {v:.1f} | whole response, minus bare: {v - s['bare']:.1f} |")
for k, v in z.items():
    print(f"| store lookup among {int(k):,} keys | {v:.1f} | |")
print(f"| success path, 1 thread | {t['1_thread']:.1f} | per request |")
print(f"| success path, 2 threads, same key | {t['2_threads_same_key']:.1f} | per request; scaling × {t['1_thread']/t['2_threads_same_key']:.2f} |")
print(f"| success path, 2 threads, different keys | {t['2_threads_different_keys']:.1f} | per request; scaling × {t['1_thread']/t['2_threads_different_keys']:.2f} |")
print()
print(f"End to end (axum hello-world on loopback, wrk -t1 -c32, same machine): bare {bare_rps:,.0f} req/s, keygate {keygate_rps:,.0f} req/s, ratio **{keygate_rps/bare_rps:.2f}** (target ≥ 0.9: {ok(keygate_rps >= 0.9*bare_rps)}).")
PY
{ cat "$out.tmp"; echo; echo "Redis limiter (local redis-server, deny cache off, every check a round trip):"; echo; echo "$redis_rates"; echo; echo "Key lookups through the cache (a hit never touches the store):"; echo; echo "$lookups"; echo; echo "$memory"; echo; echo "Timing (Welch's t over interleaved samples; |t| < 4.5 is the bar):"; echo; echo "$timing"; } >"$out"
rm -f "$out.tmp"
cat "$out"
