#!/usr/bin/env bash
# A long in-process soak of the layer (default 180 s, two threads): see examples/soak.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet --example soak -- --secs "${1:-180}" --keys "${2:-200000}"
