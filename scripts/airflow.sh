#!/usr/bin/env bash
# Airflow with the UI on the local stack: api-server (UI, REST API v2, execution API),
# scheduler (LocalExecutor: runs of a backfill in parallel), dag-processor and triggerer,
# with the project's DAG folder and connections (.local/stack.env) and a PostgreSQL metadata
# database `airflow` in the project cluster. Everything under $AIRFLOW_HOME (default
# .local/airflow): pid files in run/, service logs in logs/services/, the login's password.
#   airflow.sh start | stop | restart | status | env | cli ARGS...
#     env: print the file to source for this instance's `airflow` CLI (metadata DB, config)
#     cli: run `airflow ARGS...` against this instance, e.g. `airflow.sh cli backfill create ...`
# Settings from the environment (defaults):
#   AIRFLOW_API_HOST (127.0.0.1), AIRFLOW_API_PORT (8080)    where the UI and the API listen
#   AIRFLOW_USER (admin)                                      the SimpleAuthManager login (role admin)
#   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN                       a non-SQLite URL: use that metadata DB
#                                                             (SQLite/unset: the project's `airflow` DB)
#   AIRFLOW_PARALLELISM (8)                                   LocalExecutor worker processes
#   AIRFLOW_START_TIMEOUT (180), AIRFLOW_STOP_TIMEOUT (60)    seconds
# Connections, WAREHOUSE_DSN, ALERTS_* and WATCHLIST_* already in the caller's environment
# win over .local/stack.env (tests point an instance at throw-away databases that way).
source "$(dirname "$0")/lib.sh"
log() { printf '[airflow] %s\n' "$*" >&2; }
die() { printf '[airflow] ERROR: %s\n' "$*" >&2; exit 1; }

# --- the instance's environment -----------------------------------------------------------
declare -A caller_env=()
for var in $(compgen -e); do
  case $var in
    AIRFLOW_CONN_* | AIRFLOW_VAR_* | WAREHOUSE_DSN | ALERTS_* | WATCHLIST_*) caller_env[$var]=${!var} ;;
  esac
done
metadata_url=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}
source "$REPO_ROOT/scripts/env.sh"   # venv, dags folder, AIRFLOW_HOME, .local/stack.env
for var in "${!caller_env[@]}"; do export "$var=${caller_env[$var]}"; done
set -euo pipefail                    # env.sh is sourced by interactive shells too: keep ours

RUN_DIR="$AIRFLOW_HOME/run"
SVC_LOG_DIR="$AIRFLOW_HOME/logs/services"
ENV_FILE="$AIRFLOW_HOME/airflow.env"
PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json"
API_HOST="${AIRFLOW_API_HOST:-127.0.0.1}"
API_PORT="${AIRFLOW_API_PORT:-8080}"
API_URL="http://$API_HOST:$API_PORT"
AIRFLOW_USER="${AIRFLOW_USER:-admin}"
START_TIMEOUT="${AIRFLOW_START_TIMEOUT:-180}"
STOP_TIMEOUT="${AIRFLOW_STOP_TIMEOUT:-60}"
COMPONENTS=(api-server scheduler dag-processor triggerer)
PROJECT_DB=false
if [[ -z "$metadata_url" || "$metadata_url" == sqlite* ]]; then
  # LocalExecutor needs a real database; the sqlite default of env.sh is for `airflow dags test`.
  PROJECT_DB=true
  metadata_url="postgresql+psycopg2://airflow:$(secret airflow_db_password)@127.0.0.1:$PG_PORT/airflow"
fi
mkdir -p "$AIRFLOW_HOME" "$RUN_DIR" "$SVC_LOG_DIR"

# Secrets of this instance (JWT signing key, session key, the login's password).
home_secret() {  # name [bytes]
  local file="$AIRFLOW_HOME/secrets/$1" bytes=${2:-24}
  mkdir -p "$AIRFLOW_HOME/secrets"; chmod 700 "$AIRFLOW_HOME/secrets"
  [ -s "$file" ] || (umask 077; "$VENV/bin/python" -c 'import secrets; import sys; print(secrets.token_urlsafe(int(sys.argv[1])))' "$bytes" >"$file")
  cat "$file"
}

export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$metadata_url"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW_PARALLELISM:-8}"
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$AIRFLOW_USER:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$PASSWORDS_FILE"
export AIRFLOW__API__HOST="$API_HOST"
export AIRFLOW__API__PORT="$API_PORT"
export AIRFLOW__API__BASE_URL="$API_URL"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$API_URL/execution/"
export AIRFLOW__API_AUTH__JWT_SECRET="$(home_secret jwt_secret 64)"  # HS512: >= 64 bytes
export AIRFLOW__API__SECRET_KEY="$(home_secret api_secret_key)"
# On-call is told of a day not screened this many hours after it ended (0 = off; the DAG
# reads it when parsed).
export WATCHLIST_DEADLINE_HOURS="${WATCHLIST_DEADLINE_HOURS:-9}"
# A SparkSubmitOperator without this connection silently uses --master yarn.
[ -n "${AIRFLOW_CONN_SPARK_DEFAULT:-}" ] || export AIRFLOW_CONN_SPARK_DEFAULT='{"conn_type": "spark", "host": "local[*]"}'

# The login: a generated password, written where SimpleAuthManager reads it (it would
# otherwise generate one itself and print it into the api-server's log).
ensure_login() {
  local password
  password=$(home_secret "login_$AIRFLOW_USER")
  (umask 077; PASSWORDS_FILE="$PASSWORDS_FILE" AIRFLOW_USER="$AIRFLOW_USER" LOGIN_PASSWORD="$password" \
    "$VENV/bin/python" - <<'PY'
import json, os
path, user, password = os.environ["PASSWORDS_FILE"], os.environ["AIRFLOW_USER"], os.environ["LOGIN_PASSWORD"]
try:
    with open(path) as f:
        passwords = json.load(f)
except (FileNotFoundError, ValueError):
    passwords = {}
if passwords.get(user) != password:
    passwords[user] = password
    with open(path + ".new", "w") as f:
        json.dump(passwords, f)
    os.replace(path + ".new", path)
PY
  )
  chmod 600 "$PASSWORDS_FILE"
}

# What `source`-ing gives the `airflow` CLI this instance (secrets inside: mode 600).
write_env_file() {
  local var
  (
    umask 077
    {
      echo "# Generated by scripts/airflow.sh: source it to run the airflow CLI against this instance."
      echo "source '$REPO_ROOT/scripts/env.sh'"
      for var in $(compgen -e | sort); do
        case $var in
          AIRFLOW_HOME | AIRFLOW__* | AIRFLOW_CONN_* | AIRFLOW_VAR_* | WAREHOUSE_DSN | ALERTS_* | WATCHLIST_*)
            printf 'export %s=%q\n' "$var" "${!var}" ;;
        esac
      done
    } >"$ENV_FILE.new"
    mv "$ENV_FILE.new" "$ENV_FILE"
  )
}

# --- processes ----------------------------------------------------------------------------
pid_file() { echo "$RUN_DIR/$1.pid"; }
log_file() { echo "$SVC_LOG_DIR/$1.log"; }

# The pid recorded for component $1 if that process is alive and is that component
# (a stale pid file may name a pid reused by something else).
live_pid() {
  local file pid
  file=$(pid_file "$1")
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  # A zombie (state Z) has exited; where nothing reaps orphans it lingers in the table.
  ps -o stat=,args= -p "$pid" 2>/dev/null | grep -v '^Z' | grep -qE -- "airflow ${1//-/[-_]}( |$)" || return 1  # api-server retitles itself api_server
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/$API_HOST/$1") 2>/dev/null; }

# Runs "$@" in its own session (Ctrl-C in the caller's terminal must not reach it, and stop
# can end the component's children with it); the child writes its own pid.
spawn() {  # component command...
  local component=$1; shift
  rm -f "$(pid_file "$component")"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$(pid_file "$component")" "$@" \
    >>"$(log_file "$component")" 2>&1 </dev/null &
}

health() {  # prints "component:status ..." from the API server's health endpoint
  local body
  body=$(curl -fsS --max-time 3 "$API_URL/api/v2/monitor/health" 2>/dev/null) || return 1
  "$VENV/bin/python" -c '
import json, sys
h = json.load(sys.stdin)
print(" ".join("%s:%s" % (k, (v or {}).get("status")) for k, v in sorted(h.items())))' <<<"$body"
}

all_healthy() {
  local h
  h=$(health) || return 1
  for part in metadatabase scheduler dag_processor triggerer; do
    [[ " $h " == *" $part:healthy "* ]] || return 1
  done
}

wait_healthy() {
  local deadline=$(( $(date +%s) + START_TIMEOUT )) component
  until all_healthy; do
    for component in "${COMPONENTS[@]}"; do
      # Give a child a moment to write its pid file before judging it dead.
      if [ -s "$(pid_file "$component")" ] && ! live_pid "$component" >/dev/null; then
        tail -n 30 "$(log_file "$component")" >&2 || true
        die "airflow $component exited during start-up; log: $(log_file "$component")"
      fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "Airflow not healthy after ${START_TIMEOUT}s ($(health || echo "no answer from $API_URL")); logs: $SVC_LOG_DIR"
    fi
    sleep 1
  done
}

banner() {
  local password
  password=$(home_secret "login_$AIRFLOW_USER")
  log "Airflow UI:  $API_URL   (REST API: $API_URL/api/v2, docs: $API_URL/docs)"
  if [ -t 2 ]; then
    log "login:       $AIRFLOW_USER / $password"
  else
    log "login:       $AIRFLOW_USER, password in $PASSWORDS_FILE"
  fi
  log "DAG:         watchlist_screening (unpause it in the UI to schedule days; Trigger with config for one day)"
  log "deadline:    on-call is told of a day not screened ${WATCHLIST_DEADLINE_HOURS} h after it ended (WATCHLIST_DEADLINE_HOURS; 0 = off)"
  log "CLI:         source $ENV_FILE  (or scripts/airflow.sh cli ...); logs: $SVC_LOG_DIR; stop: scripts/airflow.sh stop"
}

start() {
  local component pending=() pid
  [ -s "$STACK_ENV" ] || [ -n "${AIRFLOW_CONN_WAREHOUSE_POSTGRES:-}" ] \
    || log "warning: no $STACK_ENV and no AIRFLOW_CONN_WAREHOUSE_POSTGRES: start the local stack first (make up)"
  if $PROJECT_DB; then "$REPO_ROOT/scripts/pg.sh" start; fi
  ensure_login
  write_env_file
  for component in "${COMPONENTS[@]}"; do
    if pid=$(live_pid "$component"); then
      log "airflow $component already running (pid $pid)"
    else
      pending+=("$component")
    fi
  done
  if [ ${#pending[@]} -gt 0 ]; then
    if [[ " ${pending[*]} " == *" api-server "* ]] && port_in_use "$API_PORT"; then
      die "port $API_PORT on $API_HOST is taken by another process (set AIRFLOW_API_PORT)"
    fi
    log "migrating the Airflow metadata database (log: $(log_file db-migrate))"
    airflow db migrate >>"$(log_file db-migrate)" 2>&1 \
      || { tail -n 30 "$(log_file db-migrate)" >&2; die "airflow db migrate failed"; }
    airflow pools set alerting_service "${ALERTING_POOL_SLOTS:-4}" "Concurrent calls to the alerting service" \
      >>"$(log_file db-migrate)" 2>&1 || die "could not create pool alerting_service; log: $(log_file db-migrate)"
    for component in "${pending[@]}"; do
      case $component in
        api-server) spawn "$component" airflow api-server --host "$API_HOST" --port "$API_PORT" ;;
        # The api-server reads task logs from this machine's log folder: no log servers
        # (they would listen on every interface, one fixed port per instance).
        scheduler | triggerer) spawn "$component" airflow "$component" --skip-serve-logs ;;
        *) spawn "$component" airflow "$component" ;;
      esac
    done
  fi
  wait_healthy
  for component in "${pending[@]}"; do
    log "airflow $component started (pid $(cat "$(pid_file "$component")"))"
  done
  banner
}

# TERM every component first, then wait for each: graceful shutdowns overlap. What is left
# of a component's session after that (task processes, Spark drivers) is ended with it.
stop() {
  local component pid deadline
  declare -A was_live=()
  for component in "${COMPONENTS[@]}"; do
    if pid=$(live_pid "$component"); then was_live[$component]=1; kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  for component in "${COMPONENTS[@]}"; do
    while pid=$(live_pid "$component"); do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        log "airflow $component (pid $pid) did not stop within ${STOP_TIMEOUT}s, killing it"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.5
    done
    if [ -s "$(pid_file "$component")" ]; then
      pid=$(cat "$(pid_file "$component")")
      # The session's process group (pgid = the component's pid, see spawn): left-over task
      # processes. Only a group this script started: the component was running, or every
      # process still in the group is part of Airflow or a Spark job it launched.
      if pgrep -g "$pid" >/dev/null 2>&1 && { [ -n "${was_live[$component]:-}" ] \
           || ! pgrep -a -g "$pid" | grep -vqE 'airflow|spark|java'; }; then
        kill -TERM -- "-$pid" 2>/dev/null || true
        sleep 2
        kill -KILL -- "-$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$(pid_file "$component")"
  done
  log "Airflow stopped ($AIRFLOW_HOME)"
}

status() {
  local component pid rc=0 h
  for component in "${COMPONENTS[@]}"; do
    if pid=$(live_pid "$component"); then
      echo "airflow $component running (pid $pid)"
    else
      echo "airflow $component stopped"; rc=3
    fi
  done
  if h=$(health); then echo "health at $API_URL: $h"; else echo "no answer from $API_URL"; rc=3; fi
  return "$rc"
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  restart) stop; start ;;
  env) write_env_file; echo "$ENV_FILE" ;;
  cli) shift; exec airflow "$@" ;;
  *) die "usage: $0 start|stop|restart|status|env|cli ARGS..." ;;
esac
