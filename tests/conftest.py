"""Shared fixtures. Integration tests use the real local stack (scripts/stack.sh), each
test session in throw-away databases so parallel work never sees another run's rows."""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK = REPO_ROOT / "scripts" / "stack.sh"
STACK_ENV = REPO_ROOT / ".local" / "stack.env"

# py4j logs "Closing down clientserver connection" from a finaliser at interpreter exit,
# after pytest has closed the stream it logs to: a "Logging error" traceback in every run
# that started Spark in-process.
logging.getLogger("py4j").setLevel(logging.WARNING)


def load_env_file(path: Path) -> dict[str, str]:
    """The values in .local/stack.env (`_stack_default NAME 'value'` lines, see scripts/stack.sh)."""
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("_stack_default "):
            _, name, value = shlex.split(line)
            env[name] = value
    return env


def _run_stack(command: str) -> dict[str, str]:
    subprocess.run([str(STACK), command], check=True, cwd=REPO_ROOT)
    env = load_env_file(STACK_ENV)
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def stack_db() -> dict[str, str]:
    """PostgreSQL running with the warehouse/alerts databases migrated; returns the stack env."""
    return _run_stack("db")


@pytest.fixture(scope="session")
def stack_up(stack_db) -> dict[str, str]:
    """The whole local stack: PostgreSQL, alerting replicas and the load balancer."""
    return _run_stack("up")


def _fresh_database(base_dsn: str, prefix: str) -> str:
    """A new empty database beside base_dsn's, as a URL (usable as AIRFLOW_CONN_*)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(base_dsn)._replace(path=f"/{name}"))


def drop_database(base_dsn: str, dsn: str, attempts: int = 20) -> None:
    """DROP DATABASE, which itself stops an autovacuum worker busy in it (a database just
    written to in bulk often has one); then WITH (FORCE) for our own sessions left in it.
    FORCE alone refuses while an autovacuum worker is there: it may only terminate
    backends of our own role."""
    name = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(base_dsn, autocommit=True) as conn:
        for attempt in range(attempts):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    return
                except psycopg.errors.InsufficientPrivilege:
                    if attempt == attempts - 1:
                        raise
                    time.sleep(0.5)


@contextmanager
def migrated_database(base_dsn: str, schema: str):
    """A throw-away database beside base_dsn's with sql/<schema>/ applied; dropped after."""
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    dsn = _fresh_database(base_dsn, f"{schema}_test")
    try:
        apply_migrations(dsn, SQL_ROOT / schema)
        yield dsn
    finally:
        drop_database(base_dsn, dsn)


@pytest.fixture(scope="session")
def warehouse_dsn(stack_db) -> str:
    """A migrated, empty warehouse database of this test session."""
    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def alerts_db_dsn(stack_db) -> str:
    """A migrated, empty alerts database of this test session."""
    with migrated_database(stack_db["ALERTS_DB_DSN"], "alerts") as dsn:
        yield dsn
