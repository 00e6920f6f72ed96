# Shared helpers for the local-stack scripts. Sourced, not executed.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="${WATCHLIST_LOCAL_DIR:-$REPO_ROOT/.local}"
mkdir -p "$LOCAL_DIR/logs"
LOCAL_DIR="$(cd "$LOCAL_DIR" && pwd -P)"   # the key of the state dir below: one spelling per dir
VENV="${VENV:-$REPO_ROOT/.venv}"
STACK_ENV="$LOCAL_DIR/stack.env"
# A stack remembers the ports it was brought up on (stack.sh writes ports.env), so that
# `down` or a later `up` of the same directory (a test session's stack on free ports) finds
# it again; ports given in the environment win.
PORTS_ENV="$LOCAL_DIR/ports.env"
if [ -s "$PORTS_ENV" ]; then
  while IFS='=' read -r _name _value; do
    case $_name in PG_PORT | ALERTS_LB_PORT | ALERTS_REPLICA_PORTS | ALERTS_GRPC_LB_PORT | ALERTS_GRPC_REPLICA_PORTS) [ -n "${!_name:-}" ] || printf -v "$_name" %s "$_value" ;; esac
  done <"$PORTS_ENV"
  unset _name _value
fi
PG_PORT="${PG_PORT:-55432}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"
ALERTS_LB_PORT="${ALERTS_LB_PORT:-8088}"
ALERTS_REPLICA_PORTS="${ALERTS_REPLICA_PORTS:-8091 8092}"
# The gRPC API: the balancer's port, and one port per replica (in ALERTS_REPLICA_PORTS'
# order). The documented stack has fixed ones; a stack on other ports (tests, benches, a
# second clone) that names no gRPC ports gets free ones, remembered in its ports.env, so
# that it never collides with another stack's gRPC ports.
if [ -z "${ALERTS_GRPC_LB_PORT:-}${ALERTS_GRPC_REPLICA_PORTS:-}" ]; then
  if [ "$ALERTS_LB_PORT $ALERTS_REPLICA_PORTS" = "8088 8091 8092" ]; then
    ALERTS_GRPC_LB_PORT=8089; ALERTS_GRPC_REPLICA_PORTS="8093 8094"
  else
    read -r ALERTS_GRPC_LB_PORT ALERTS_GRPC_REPLICA_PORTS < <(python3 -c '
import socket, sys
from contextlib import ExitStack
with ExitStack() as held:
    socks = [held.enter_context(socket.socket()) for _ in range(int(sys.argv[1]))]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    print(" ".join(str(s.getsockname()[1]) for s in socks))' "$(( $(wc -w <<<"$ALERTS_REPLICA_PORTS") + 1 ))")
    printf 'ALERTS_GRPC_LB_PORT=%s\nALERTS_GRPC_REPLICA_PORTS=%s\n' "$ALERTS_GRPC_LB_PORT" "$ALERTS_GRPC_REPLICA_PORTS" >>"$PORTS_ENV"
  fi
fi

# What the stack's daemons must reach themselves. As root, PostgreSQL runs as `postgres` and
# nginx's workers as `nobody`, and a clone may sit where neither can enter (root's home, a
# mode-700 mktemp dir): their data, sockets and temp files live in a directory outside the
# clone then, one per .local directory (keyed by its path; `owner` names it). As a normal
# user every process runs as that user, and .local itself serves.
state_key() { printf '%s' "$1" | sha256sum | cut -c1-16; }
STATE_ROOT="${WATCHLIST_STATE_ROOT:-/var/lib/watchlist-screening}"
if [ "$(id -u)" = 0 ]; then
  STATE_DIR="$STATE_ROOT/$(state_key "$LOCAL_DIR")"
else
  STATE_DIR="$LOCAL_DIR"
fi

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_state_dir() {
  [ "$STATE_DIR" = "$LOCAL_DIR" ] && return
  mkdir -p "$STATE_DIR"; chmod 755 "$STATE_ROOT" "$STATE_DIR"
  printf '%s\n' "$LOCAL_DIR" >"$STATE_DIR/owner"
}

# The state dir goes once nothing but its owner note is left in it (alerting-only stacks
# of tests and benches come and go with their temp dirs).
release_state_dir() {
  [ "$STATE_DIR" = "$LOCAL_DIR" ] && return
  [ -d "$STATE_DIR" ] || return 0
  if [ -z "$(ls -A "$STATE_DIR" | grep -vx owner)" ]; then rm -rf "$STATE_DIR"; fi
}

# PostgreSQL refuses to run as root: run its tools as the `postgres` system user then.
# From /: postgres may not be able to enter the caller's directory (a clone in root's home).
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# A secret generated once per checkout and kept under .local (never committed).
secret() {
  local file="$LOCAL_DIR/secrets/$1"
  mkdir -p "$LOCAL_DIR/secrets"; chmod 700 "$LOCAL_DIR/secrets"
  [ -s "$file" ] || (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' > "$file")
  cat "$file"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Who listens on a port, to name another clone's stack in the error instead of talking to it.
port_owner() {  # port
  local pid args dir
  pid=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2) || true
  [ -n "$pid" ] || { echo "an unknown process"; return; }
  args=$(ps -o args= -p "$pid" 2>/dev/null || true)
  # nginx's workers hold the socket too; the master's argv names the prefix.
  if [[ "$args" == "nginx: worker"* ]]; then
    pid=$(ps -o ppid= -p "$pid" | tr -d ' '); args=$(ps -o args= -p "$pid" 2>/dev/null || true)
  fi
  # A stack of this project names its .local dir: in the state dir's owner note, or in argv.
  for dir in "$STATE_ROOT"/*/; do
    [ -s "$dir/owner" ] || continue
    if [[ "$args" == *"$dir"* || "$args" == *"${dir%/}"* ]]; then
      echo "the local stack of $(cat "$dir/owner") (pid $pid: $args)"; return
    fi
  done
  echo "pid $pid: $args"
}

require_free_port() {  # port what
  port_in_use "$1" || return 0
  die "$2: port $1 is taken by $(port_owner "$1"). Stop that stack (make down in its clone) or pick other ports (PG_PORT, ALERTS_LB_PORT, ALERTS_REPLICA_PORTS, ALERTS_GRPC_LB_PORT, ALERTS_GRPC_REPLICA_PORTS)"
}

wait_http() {  # url, seconds
  local url=$1 deadline=$(( $(date +%s) + ${2:-30} ))
  until curl -fsS -o /dev/null "$url"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}
