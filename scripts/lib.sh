# Shared helpers for the local-stack scripts. Sourced, not executed.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="${WATCHLIST_LOCAL_DIR:-$REPO_ROOT/.local}"
VENV="${VENV:-$REPO_ROOT/.venv}"
PG_PORT="${PG_PORT:-55432}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"
ALERTS_LB_PORT="${ALERTS_LB_PORT:-8088}"
ALERTS_REPLICA_PORTS="${ALERTS_REPLICA_PORTS:-8091 8092}"
STACK_ENV="$LOCAL_DIR/stack.env"
mkdir -p "$LOCAL_DIR/logs"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# PostgreSQL refuses to run as root: run its tools as the `postgres` system user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A secret generated once per checkout and kept under .local (never committed).
secret() {
  local file="$LOCAL_DIR/secrets/$1"
  mkdir -p "$LOCAL_DIR/secrets"; chmod 700 "$LOCAL_DIR/secrets"
  [ -s "$file" ] || (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' > "$file")
  cat "$file"
}

wait_http() {  # url, seconds
  local url=$1 deadline=$(( $(date +%s) + ${2:-30} ))
  until curl -fsS -o /dev/null "$url"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}
