#!/usr/bin/env bash
# The whole suite, on a fresh machine: starts Redis and PostgreSQL on loopback (installing them
# with apt-get when missing), checks formatting and lints, runs every test with every feature,
# then tries the quickstart with curl and with the client snippets of examples/clients/.
#
# Backend tests read KEYGATE_TEST_REDIS_URL / KEYGATE_TEST_POSTGRES_URL. With
# KEYGATE_REQUIRE_BACKENDS=1 (as CI sets it) a backend test whose server is missing fails
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop' EXIT

cargo fmt --all -- --check
cargo clippy --all-targets --all-features -- -D warnings
cargo test --all-features
# The scale simulation, briefly: two nodes on the real PostgreSQL and Redis (README › Scaling out).
cargo run --quiet --all-features --example scale_sim -- --keys 2000 --requests 20000 --settings both
scripts/smoke-quickstart.sh
cargo run --quiet --example soak -- --secs 5 --keys 30000
scripts/clients-test.sh
scripts/panel-test.sh
