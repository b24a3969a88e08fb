#!/usr/bin/env bash
# Prints every public path of the crate (every feature on) and the item it reaches, then the
# items reachable at more than one path (none, or tests/public_paths.rs fails).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --quiet --all-features --test public_paths -- --ignored --exact print_public_paths \
    --nocapture | grep -E $'\t|^duplicates|^  '
