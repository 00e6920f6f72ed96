#!/usr/bin/env bash
# The project-owned PostgreSQL cluster: start | stop | status | destroy.
# Data, socket and server log live in $STATE_DIR/pg (see lib.sh): outside the clone when
# running as root, since `postgres` may not be able to enter the clone.
source "$(dirname "$0")/lib.sh"
PG_DIR="$STATE_DIR/pg"
PGDATA="$PG_DIR/data"
PGRUN="$PG_DIR/run"
PG_LOG="$PG_DIR/server.log"
# Where earlier versions kept the cluster, inside the clone.
LEGACY_PG_DIR="$LOCAL_DIR/pg"
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found (install: apt-get install postgresql)"

psql_admin() { as_pg "$PG_BIN/psql" -h "$PGRUN" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

running() { [ -s "$1/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

# CREATEDB lets the test suite create throw-away databases next to the real ones.
ensure_role_db() {  # role password database
  local role=$1 pw=$2 db=$3
  psql_admin -d postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') \gexec
ALTER ROLE "$role" WITH LOGIN CREATEDB PASSWORD '$pw';
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$role') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \gexec
SQL
}

# A cluster an earlier version made in .local/pg moves to $PG_DIR (stopped first: one
# restart, its data kept), so that there is one place to start, stop and clean up.
migrate_legacy() {
  [ "$LEGACY_PG_DIR" != "$PG_DIR" ] && [ -s "$LEGACY_PG_DIR/data/PG_VERSION" ] || return 0
  [ -s "$PGDATA/PG_VERSION" ] && die "two clusters: $LEGACY_PG_DIR/data and $PGDATA; remove the one you do not need"
  if running "$LEGACY_PG_DIR/data"; then
    log "stopping the PostgreSQL cluster in $LEGACY_PG_DIR/data to move it to $PGDATA"
    as_pg "$PG_BIN/pg_ctl" -D "$LEGACY_PG_DIR/data" -m fast -w stop >/dev/null
  fi
  mkdir -p "$PG_DIR"
  mv "$LEGACY_PG_DIR/data" "$PGDATA"
  [ -f "$LEGACY_PG_DIR/server.log" ] && mv "$LEGACY_PG_DIR/server.log" "$PG_LOG"
  rm -rf "$LEGACY_PG_DIR"
  log "moved the PostgreSQL cluster to $PGDATA"
}

start() {
  ensure_state_dir
  migrate_legacy
  mkdir -p "$PG_DIR"
  # Only postgres reads its data and socket dirs; the parent stays searchable for clients.
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOCAL_DIR/logs/initdb.log"
    as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = ${PG_SHARED_BUFFERS:-512MB}
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
synchronous_commit = off
fsync = ${PG_FSYNC:-on}
CONF
  fi
  as_pg mkdir -p "$PGRUN"
  if running "$PGDATA"; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    require_free_port "$PG_PORT" "PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 \
      -o "-p $PG_PORT -k $PGRUN" start >/dev/null || die "PostgreSQL failed to start; see $PG_LOG"
    log "PostgreSQL started on 127.0.0.1:$PG_PORT (data in $PGDATA)"
  fi
  ensure_role_db pipeline "$(secret pipeline_db_password)" warehouse
  ensure_role_db alerting "$(secret alerting_db_password)" alerts
  ensure_role_db airflow "$(secret airflow_db_password)" airflow   # Airflow metadata (scripts/airflow.sh)
}

stop() {
  local data
  for data in "$PGDATA" "$LEGACY_PG_DIR/data"; do
    if running "$data"; then
      as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null && log "PostgreSQL stopped ($data)"
    fi
  done
}

status() { as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status; }

# Stop and delete the cluster (make clean): nothing of the clone is left outside it.
destroy() {
  stop
  [ "$PG_DIR" = "$LEGACY_PG_DIR" ] || rm -rf "$PG_DIR"
  rm -rf "$LEGACY_PG_DIR"
  release_state_dir
}

"${1:-start}"
