#!/usr/bin/env bash
# The scale simulation of README › Scaling out: two nodes (two ApiKeyLayers, each with its own
# PostgreSQL pool, cache, LISTEN connection and Redis connection) under a Zipf workload, on
# the PostgreSQL and Redis that scripts/services.sh starts (installing them when missing).
# Prints, per 1,000 requests at steady state, PostgreSQL reads, row writes, NOTIFY messages,
# Redis calls and requests admitted beyond the hot keys' quota, for the settings before the
# internet-scale changes (baseline) and after them (scaled).
#
#   scripts/scale-sim.sh                  # the README's run (release build, ~2 minutes)
#   scripts/scale-sim.sh --keys 2000 --requests 20000    # any examples/scale_sim.rs flags
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/services.sh start)"

if [ "$#" -eq 0 ]; then
  set -- --keys 50000 --requests 400000 --settings both
fi
cargo run --release --quiet --features postgres,redis,cache --example scale_sim -- "$@"
