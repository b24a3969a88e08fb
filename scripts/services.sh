#!/usr/bin/env bash
# Installs (apt-get, when missing) and runs the servers the backend tests need, on loopback:
# redis-server, a 3-master Redis Cluster and PostgreSQL, each in a throw-away directory.
#
#   scripts/services.sh start            start all three; prints the URLs as `export` lines
#   scripts/services.sh stop             stop all three (the cluster is created anew next start)
#   scripts/services.sh stop-redis|start-redis|stop-postgres|start-postgres
#                                        for fault tests: stop or restart one server, same data
#   scripts/services.sh stop-cluster-node PORT|start-cluster-node PORT
#                                        for fault tests: stop one cluster master, or restart it
#                                        with its own cluster config (it takes its slots back)
#
# Ports and directory: KEYGATE_REDIS_PORT (6390), KEYGATE_PG_PORT (5440),
# KEYGATE_REDIS_CLUSTER_PORTS (7001,7002,7003: three masters, no replicas),
# KEYGATE_SERVICES_DIR (/tmp/keygate-services).
set -euo pipefail

STATE=${KEYGATE_SERVICES_DIR:-/tmp/keygate-services}
REDIS_PORT=${KEYGATE_REDIS_PORT:-6390}
PG_PORT=${KEYGATE_PG_PORT:-5440}
IFS=, read -r -a CLUSTER_PORTS <<< "${KEYGATE_REDIS_CLUSTER_PORTS:-7001,7002,7003}"
PG_DATA=$STATE/pg/data

log() { echo "services: $*" >&2; }

apt_install() {
  log "installing $* with apt-get"
  if [ "$(id -u)" -ne 0 ]; then
    log "not root: install $* yourself (apt-get install $*)"; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "$@" >&2
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  echo "$dir"
}

ensure_installed() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  [ -n "$(pg_bin)" ] || apt_install postgresql
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$STATE" --shell /bin/sh postgres
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

start_redis() {
  mkdir -p "$STATE/redis"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --dir "$STATE/redis" --pidfile "$STATE/redis/redis.pid" \
    --logfile "$STATE/redis/redis.log" >&2
  for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  log "redis-server did not start; its log:"; cat "$STATE/redis/redis.log" >&2; exit 1
}

stop_redis() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || return 0
    sleep 0.1
  done
}

# One cluster node on port $1, with its cluster config (node id, epoch, slots) in its own
# directory: restarted, it rejoins the cluster as the master of the slots it had.
start_cluster_node() {
  local port=$1 dir=$STATE/cluster/$1
  mkdir -p "$dir"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then return; fi
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 1000 \
    --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  log "cluster node $port did not start; its log:"; cat "$dir/redis.log" >&2; exit 1
}

stop_cluster_node() {
  local port=$1
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 || return 0
    sleep 0.1
  done
}

cluster_ok() {
  redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

# Waits until every node says `cluster_state:ok` (30 s at most).
wait_cluster_ok() {
  for _ in $(seq 1 300); do
    local all=1 port
    for port in "${CLUSTER_PORTS[@]}"; do cluster_ok "$port" || { all=0; break; }; done
    [ "$all" = 1 ] && return
    sleep 0.1
  done
  log "the Redis Cluster on ${CLUSTER_PORTS[*]} is not ok; its nodes say:"
  for port in "${CLUSTER_PORTS[@]}"; do redis-cli -p "$port" cluster info 2>&1 | head -n 1 >&2; done
  exit 1
}

start_cluster() {
  local port nodes=()
  for port in "${CLUSTER_PORTS[@]}"; do
    start_cluster_node "$port"
    nodes+=("127.0.0.1:$port")
  done
  # A new cluster (no slot assigned yet): the masters split the slots between them.
  if redis-cli -p "${CLUSTER_PORTS[0]}" cluster info | grep -q '^cluster_slots_assigned:0'; then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null || {
      log "redis-cli --cluster create ${nodes[*]} failed"; exit 1; }
  fi
  wait_cluster_ok
}

stop_cluster() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    stop_cluster_node "$port"
    rm -f "$STATE/cluster/$port/nodes.conf"
  done
}

cluster_urls() {
  local port urls=()
  for port in "${CLUSTER_PORTS[@]}"; do urls+=("redis://127.0.0.1:$port/"); done
  (IFS=,; echo "${urls[*]}")
}

start_postgres() {
  local bin; bin=$(pg_bin)
  mkdir -p "$STATE/pg"
  chown postgres "$STATE/pg" 2>/dev/null || true
  chmod 755 "$STATE" 2>/dev/null || true
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    as_postgres "'$bin/initdb' -D '$PG_DATA' -A trust -U keygate --no-sync >/dev/null"
  fi
  if ! as_postgres "'$bin/pg_ctl' -D '$PG_DATA' status >/dev/null 2>&1"; then
    as_postgres "'$bin/pg_ctl' -D '$PG_DATA' -w -t 60 -l '$STATE/pg/postgres.log' \
      -o \"-p $PG_PORT -k '$STATE/pg' -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null" || {
      log "PostgreSQL did not start; its log:"; cat "$STATE/pg/postgres.log" >&2; exit 1; }
  fi
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U keygate -d postgres -tAc \
      "select 1 from pg_database where datname = 'keygate_test'" | grep -q 1; then
    "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U keygate -d postgres -qc "create database keygate_test" >&2
  fi
}

stop_postgres() {
  local bin; bin=$(pg_bin)
  [ -f "$PG_DATA/PG_VERSION" ] || return 0
  as_postgres "'$bin/pg_ctl' -D '$PG_DATA' -m fast -w stop >/dev/null 2>&1" || true
}

case "${1:-}" in
  start)
    ensure_installed
    start_redis
    start_cluster
    start_postgres
    echo "export KEYGATE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/"
    echo "export KEYGATE_TEST_REDIS_CLUSTER_URLS=$(cluster_urls)"
    echo "export KEYGATE_TEST_POSTGRES_URL=postgres://keygate@127.0.0.1:$PG_PORT/keygate_test"
    ;;
  stop) stop_redis; stop_cluster; stop_postgres ;;
  start-redis) start_redis ;;
  stop-redis) stop_redis ;;
  start-postgres) start_postgres ;;
  stop-postgres) stop_postgres ;;
  stop-cluster-node) stop_cluster_node "${2:?usage: $0 stop-cluster-node PORT}" ;;
  start-cluster-node) start_cluster_node "${2:?usage: $0 start-cluster-node PORT}"; wait_cluster_ok ;;
  *) echo "usage: $0 start|stop|start-redis|stop-redis|start-postgres|stop-postgres|stop-cluster-node PORT|start-cluster-node PORT" >&2; exit 2 ;;
esac
