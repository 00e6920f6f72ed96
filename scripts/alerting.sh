#!/usr/bin/env bash
# The alerting service on the local stack: uvicorn replicas (ports $ALERTS_REPLICA_PORTS, and
# their gRPC API on $ALERTS_GRPC_REPLICA_PORTS) behind nginx on 127.0.0.1:$ALERTS_LB_PORT
# (gRPC: 127.0.0.1:$ALERTS_GRPC_LB_PORT): pids and logs under .local/, nginx's prefix (config,
# temp dirs its workers write) in the stack's state dir (lib.sh), which they can enter.
#   alerting.sh start | stop | restart | status
# restart is rolling: one replica at a time, so the balancer always has one to send to.
# Needs .local/stack.env, written by `scripts/stack.sh db`.
source "$(dirname "$0")/lib.sh"

RUN_DIR="$LOCAL_DIR/run"
LOG_DIR="$LOCAL_DIR/logs"
NGINX_DIR="$STATE_DIR/nginx"
NGINX_CONF="$NGINX_DIR/nginx.conf"
NGINX_PID="$NGINX_DIR/nginx.pid"
LEGACY_NGINX_PID="$LOCAL_DIR/nginx/nginx.pid"   # where earlier versions ran it (as root: inside the clone)
NGINX_TEMPLATE="$REPO_ROOT/service/nginx.conf.template"
NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
START_TIMEOUT="${ALERTS_START_TIMEOUT:-90}"   # the replicas themselves wait up to 60s for the database
STOP_TIMEOUT="${ALERTS_STOP_TIMEOUT:-30}"

replica_pid_file() { echo "$RUN_DIR/alerting-$1.pid"; }

# The pid recorded in $1 if that process is alive and its command line matches $2
# (a stale pid file may name a pid reused by something else).
live_pid() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  # A zombie (state Z) has exited; where nothing reaps orphans it lingers in the table.
  ps -o stat=,args= -p "$pid" 2>/dev/null | grep -v '^Z' | grep -q -- "$2" || return 1
  echo "$pid"
}

# Runs "$@" in its own session (Ctrl-C in the caller's terminal must not reach it); the
# child writes its own pid because setsid may fork.
spawn() {  # pid_file log_file command...
  local pid_file=$1 log_file=$2; shift 2
  rm -f "$pid_file"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" "$@" >>"$log_file" 2>&1 </dev/null &
}

wait_healthy() {  # name pid_file pattern url log_file
  local name=$1 pid_file=$2 pattern=$3 url=$4 log_file=$5
  local deadline=$(( $(date +%s) + START_TIMEOUT ))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    sleep 0.2
    # Give the child a moment to write its pid file before judging it dead.
    if [ -s "$pid_file" ] && ! live_pid "$pid_file" "$pattern" >/dev/null; then
      tail -n 20 "$log_file" >&2 || true
      die "$name exited during start-up; log: $log_file"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "$name not healthy at $url after ${START_TIMEOUT}s; log: $log_file"
  done
}

# The gRPC port of the replica whose REST port is $1 (the same place in the two lists).
grpc_port_of() {
  local rest=($ALERTS_REPLICA_PORTS) grpc=($ALERTS_GRPC_REPLICA_PORTS) i
  for i in "${!rest[@]}"; do [ "${rest[$i]}" = "$1" ] && { echo "${grpc[$i]}"; return; }; done
  die "no gRPC port for replica port $1"
}

start_replica() {  # port
  local port=$1 grpc_port
  grpc_port=$(grpc_port_of "$port")
  require_free_port "$port" "replica 127.0.0.1:$port"
  require_free_port "$grpc_port" "replica gRPC 127.0.0.1:$grpc_port"
  (
    # Only what the service needs: no warehouse credentials in the replica's environment.
    # (Un-exported here rather than `env -i NAME=value`: argv is visible to every user.)
    for var in $(compgen -e); do
      case $var in PATH | HOME | LANG | LC_* | TZ | ALERTS_*) ;; *) export -n "$var" 2>/dev/null || true ;; esac
    done
    export PYTHONPATH="$REPO_ROOT/service"
    spawn "$(replica_pid_file "$port")" "$LOG_DIR/alerting-$port.log" \
      "$VENV/bin/python" -m alerting_service --host 127.0.0.1 --port "$port" --grpc-port "$grpc_port"
  )
}

UPSTREAM_FAILURES="max_fails=3 fail_timeout=5s"

render_nginx() {
  local servers="" grpc_servers="" port user_directive=""
  # A replica leaves the pool for fail_timeout after max_fails transport errors (errors,
  # timeouts, 502/503: proxy_next_upstream in the template) within fail_timeout. One error is
  # a reset connection or a replica restarting, and its request is already retried on the
  # next replica: it must not halve the pool. Three in 5 s is a replica that is down.
  # docker-compose.yaml's alerting-lb uses the same parameters (tests/unit/test_compose.py).
  for port in $ALERTS_REPLICA_PORTS; do
    servers+="        server 127.0.0.1:$port $UPSTREAM_FAILURES;"$'\n'
  done
  for port in $ALERTS_GRPC_REPLICA_PORTS; do
    grpc_servers+="        server 127.0.0.1:$port $UPSTREAM_FAILURES;"$'\n'
  done
  # As root the master drops its workers' privileges; as a normal user there is nothing to drop.
  [ "$(id -u)" = 0 ] && user_directive="user $(id -un nobody) $(id -gn nobody);"
  ensure_state_dir
  mkdir -p "$NGINX_DIR/tmp"
  NGINX_USER_DIRECTIVE="$user_directive" NGINX_PREFIX="$NGINX_DIR" NGINX_LOG_DIR="$LOG_DIR" \
    LISTEN="127.0.0.1:$ALERTS_LB_PORT" UPSTREAM_SERVERS="$servers" \
    GRPC_LISTEN="127.0.0.1:$ALERTS_GRPC_LB_PORT" GRPC_UPSTREAM_SERVERS="$grpc_servers" \
    envsubst '${NGINX_USER_DIRECTIVE} ${NGINX_PREFIX} ${NGINX_LOG_DIR} ${LISTEN} ${UPSTREAM_SERVERS} ${GRPC_LISTEN} ${GRPC_UPSTREAM_SERVERS}' \
    <"$NGINX_TEMPLATE" >"$NGINX_CONF.new"
  "$NGINX_BIN" -t -q -p "$NGINX_DIR/" -c "$NGINX_CONF.new" -e "$LOG_DIR/nginx-error.log" \
    || die "rendered nginx config is invalid: $NGINX_CONF.new"
  mv "$NGINX_CONF.new" "$NGINX_CONF"
}

start_nginx() {
  local name="load balancer 127.0.0.1:$ALERTS_LB_PORT" pid
  if pid=$(live_pid "$NGINX_PID" nginx); then
    log "$name already running (pid $pid)"; return
  fi
  if [ "$LEGACY_NGINX_PID" != "$NGINX_PID" ] && live_pid "$LEGACY_NGINX_PID" nginx >/dev/null; then
    log "$name: restarting the balancer an earlier version started from $LOCAL_DIR/nginx"
    stop_all QUIT nginx "$LEGACY_NGINX_PID"
  fi
  require_free_port "$ALERTS_LB_PORT" "$name"
  require_free_port "$ALERTS_GRPC_LB_PORT" "gRPC load balancer 127.0.0.1:$ALERTS_GRPC_LB_PORT"
  [ -x "$NGINX_BIN" ] || die "nginx not found (install: apt-get install nginx-light)"
  render_nginx
  # `daemon off` keeps the master the process spawned here, so the pid spawn records is
  # the one nginx itself then writes to the same file (its `pid` directive).
  spawn "$NGINX_PID" "$LOG_DIR/nginx.out" \
    "$NGINX_BIN" -p "$NGINX_DIR/" -c "$NGINX_CONF" -e "$LOG_DIR/nginx-error.log"
  wait_healthy "$name" "$NGINX_PID" nginx "http://127.0.0.1:$ALERTS_LB_PORT/healthz" "$LOG_DIR/nginx-error.log"
  log "$name started (pid $(cat "$NGINX_PID"))"
}

load_env() {
  [ -s "$STACK_ENV" ] || die "$STACK_ENV missing: run scripts/stack.sh db first"
  # Checked where replicas start, not in lib.sh: stopping a stack must work whatever the lists.
  [ "$(wc -w <<<"$ALERTS_GRPC_REPLICA_PORTS")" = "$(wc -w <<<"$ALERTS_REPLICA_PORTS")" ] \
    || die "ALERTS_GRPC_REPLICA_PORTS ($ALERTS_GRPC_REPLICA_PORTS) needs one port per replica of ALERTS_REPLICA_PORTS ($ALERTS_REPLICA_PORTS)"
  source "$STACK_ENV"
  command -v envsubst >/dev/null || die "envsubst not found (install: apt-get install gettext-base)"
  mkdir -p "$RUN_DIR"
  # The label-reader token (training labels, GET /v1/reviews) is optional for the service;
  # locally stack.sh always writes one.
  export ALERTS_LABEL_TOKEN="${ALERTS_LABEL_TOKEN:-}"
  # Reviewers open the pipeline's reports through the review page (alerts link there).
  export ALERTS_REPORT_DIR="${ALERTS_REPORT_DIR:-$LOCAL_DIR/reports}"
  mkdir -p "$ALERTS_REPORT_DIR"
}

start() {
  load_env
  local port pid pending=()
  # Launch every missing replica first, then wait: they start up in parallel.
  for port in $ALERTS_REPLICA_PORTS; do
    if pid=$(live_pid "$(replica_pid_file "$port")" alerting_service); then
      log "replica 127.0.0.1:$port already running (pid $pid)"
    else
      start_replica "$port"
      pending+=("$port")
    fi
  done
  for port in "${pending[@]}"; do
    wait_healthy "replica 127.0.0.1:$port" "$(replica_pid_file "$port")" alerting_service \
      "http://127.0.0.1:$port/healthz" "$LOG_DIR/alerting-$port.log"
    log "replica 127.0.0.1:$port started (pid $(cat "$(replica_pid_file "$port")"))"
  done
  start_nginx
}

# Signals every process first, then waits for each: graceful shutdowns overlap.
stop_all() {  # signal pattern pid_file...
  local signal=$1 pattern=$2 file pid deadline; shift 2
  for file in "$@"; do
    pid=$(live_pid "$file" "$pattern") && kill "-$signal" "$pid"
  done
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  for file in "$@"; do
    while pid=$(live_pid "$file" "$pattern"); do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        log "pid $pid did not stop within ${STOP_TIMEOUT}s, killing it"; kill -KILL "$pid"; break
      fi
      sleep 0.2
    done
    rm -f "$file"
  done
}

stop() {
  # The balancer first (QUIT: finish the requests it is proxying), so no request reaches
  # a replica that is shutting down; then the replicas (TERM: uvicorn's graceful shutdown).
  stop_all QUIT nginx "$NGINX_PID"
  [ "$LEGACY_NGINX_PID" = "$NGINX_PID" ] || stop_all QUIT nginx "$LEGACY_NGINX_PID"
  local port files=()
  for port in $ALERTS_REPLICA_PORTS; do files+=("$(replica_pid_file "$port")"); done
  stop_all TERM alerting_service "${files[@]}"
  # Rendered again by every start; outside .local it would outlive a deleted clone.
  if [ "$STATE_DIR" != "$LOCAL_DIR" ]; then rm -rf "$NGINX_DIR"; release_state_dir; fi
  log "alerting service stopped"
}

restart() {
  load_env
  local port
  for port in $ALERTS_REPLICA_PORTS; do
    stop_all TERM alerting_service "$(replica_pid_file "$port")"
    start_replica "$port"
    wait_healthy "replica 127.0.0.1:$port" "$(replica_pid_file "$port")" alerting_service \
      "http://127.0.0.1:$port/healthz" "$LOG_DIR/alerting-$port.log"
    log "replica 127.0.0.1:$port restarted (pid $(cat "$(replica_pid_file "$port")"))"
  done
  local pid
  if pid=$(live_pid "$NGINX_PID" nginx); then
    # HUP: new workers with the re-rendered config, old ones finish their requests.
    render_nginx && kill -HUP "$pid" && log "load balancer reloaded (pid $pid)"
  else
    start_nginx
  fi
}

status() {
  local port pid rc=0
  for port in $ALERTS_REPLICA_PORTS; do
    if pid=$(live_pid "$(replica_pid_file "$port")" alerting_service); then
      echo "replica 127.0.0.1:$port running (pid $pid)"
    else
      echo "replica 127.0.0.1:$port stopped"; rc=3
    fi
  done
  if pid=$(live_pid "$NGINX_PID" nginx) && curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$ALERTS_LB_PORT/healthz"; then
    echo "load balancer 127.0.0.1:$ALERTS_LB_PORT running (pid $pid)"
  else
    echo "load balancer 127.0.0.1:$ALERTS_LB_PORT stopped"; rc=3
  fi
  return "$rc"
}

case "${1:-}" in
  start | stop | restart | status) "$1" ;;
  *) die "usage: $0 start|stop|restart|status" ;;
esac
