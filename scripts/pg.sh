#!/usr/bin/env bash
# The project-owned PostgreSQL cluster under .local/pg: start | stop | status.
source "$(dirname "$0")/lib.sh"
PGDATA="$LOCAL_DIR/pg/data"
PGRUN="$LOCAL_DIR/pg/run"
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found (install: apt-get install postgresql)"

psql_admin() { as_pg "$PG_BIN/psql" -h "$PGRUN" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# CREATEDB lets the test suite create throw-away databases next to the real ones.
ensure_role_db() {  # role password database
  local role=$1 pw=$2 db=$3
  psql_admin -d postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') \gexec
ALTER ROLE "$role" WITH LOGIN CREATEDB PASSWORD '$pw';
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$role') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \gexec
SQL
}

start() {
  mkdir -p "$LOCAL_DIR/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$LOCAL_DIR/pg"; fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOCAL_DIR/logs/initdb.log"
    cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
synchronous_commit = off
CONF
  fi
  as_pg mkdir -p "$PGRUN"
  if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/../server.log" -w -t 60 \
      -o "-p $PG_PORT -k $PGRUN" start >/dev/null || die "PostgreSQL failed to start; see $LOCAL_DIR/pg/server.log"
    log "PostgreSQL started on 127.0.0.1:$PG_PORT"
  fi
  ensure_role_db pipeline "$(secret pipeline_db_password)" warehouse
  ensure_role_db alerting "$(secret alerting_db_password)" alerts
  ensure_role_db airflow "$(secret airflow_db_password)" airflow   # Airflow metadata (scripts/airflow.sh)
}

stop() {
  if [ -s "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
  fi
}

status() { as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status; }

"${1:-start}"
