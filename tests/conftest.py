"""Shared fixtures. Integration tests use a local stack of their own (scripts/stack.sh in a
directory under .local/test-stacks/, on free ports), started on first use and destroyed at
the end of the session: never the developer's `make up` stack, nor another clone's on the
documented ports. Each test session works in throw-away databases of that stack."""
from __future__ import annotations

import logging
import os
import shlex
import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager, ExitStack
from urllib.parse import urlsplit, urlunsplit
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK = REPO_ROOT / "scripts" / "stack.sh"
TEST_STACKS = REPO_ROOT / ".local" / "test-stacks"
PORT_VARS = ("PG_PORT", "ALERTS_LB_PORT", "ALERTS_REPLICA_PORTS")

# py4j logs "Closing down clientserver connection" from a finaliser at interpreter exit,
# after pytest has closed the stream it logs to: a "Logging error" traceback in every run
# that started Spark in-process.
logging.getLogger("py4j").setLevel(logging.WARNING)

# `make test` sources scripts/env.sh, which exports the developer's stack (.local/stack.env):
# a test that reached it would read and write that stack's data. What the tests need comes
# from their own stack below.
for _name in [n for n in os.environ if n.startswith(("ALERTS_", "AIRFLOW_CONN_"))]:
    del os.environ[_name]
for _name in ("WAREHOUSE_DSN", "WATCHLIST_REPORT_BASE_URL", "WATCHLIST_LOCAL_DIR", *PORT_VARS):
    os.environ.pop(_name, None)


def load_env_file(path: Path) -> dict[str, str]:
    """The values in a stack.env (`_stack_default NAME 'value'` lines, see scripts/stack.sh)."""
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("_stack_default "):
            _, name, value = shlex.split(line)
            env[name] = value
    return env


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, all different (held open together while chosen)."""
    with ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TestStack:
    """scripts/stack.sh on a directory and ports of this test session."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, root: Path = TEST_STACKS):
        self.reap_stale(root)
        self.dir = root / f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir(parents=True)
        (self.dir / "session.pid").write_text(f"{os.getpid()}\n")
        pg, lb, *replicas = free_ports(4)
        self.env = {"WATCHLIST_LOCAL_DIR": str(self.dir), "PG_PORT": str(pg), "ALERTS_LB_PORT": str(lb),
                    "ALERTS_REPLICA_PORTS": " ".join(map(str, replicas)),
                    # what the pipeline writes and the stack's replicas serve to reviewers
                    "WATCHLIST_REPORT_DIR": str(self.dir / "reports"),
                    "WATCHLIST_MODEL_DIR": str(self.dir / "models")}
        self.started: set[str] = set()
        self.values: dict[str, str] = {}

    @staticmethod
    def reap_stale(root: Path) -> None:
        """Stacks of sessions that died without tearing down (killed, power loss)."""
        for old in root.glob("*/session.pid"):
            try:
                pid = int(old.read_text())
            except ValueError:
                pid = 0
            if pid and _alive(pid):
                continue
            TestStack.destroy_dir(old.parent)

    @staticmethod
    def destroy_dir(path: Path) -> None:
        # The ports come from the directory's own ports.env (scripts/lib.sh).
        env = {k: v for k, v in os.environ.items() if k not in PORT_VARS}
        subprocess.run([str(STACK), "destroy"], env={**env, "WATCHLIST_LOCAL_DIR": str(path)},
                       cwd=REPO_ROOT, capture_output=True, timeout=300)
        shutil.rmtree(path, ignore_errors=True)

    def run(self, command: str) -> dict[str, str]:
        """`stack.sh command` for this stack; its connection settings land in os.environ, so
        that every script and task the tests start talks to this stack."""
        os.environ.update(self.env)
        env = {**os.environ, "PG_FSYNC": "off", "PG_SHARED_BUFFERS": "256MB"}
        subprocess.run([str(STACK), command], check=True, cwd=REPO_ROOT, env=env, timeout=600)
        self.started.add(command)
        self.values = {**load_env_file(self.dir / "stack.env"), **self.env}
        os.environ.update(self.values)
        return self.values

    def destroy(self) -> None:
        self.destroy_dir(self.dir)


@pytest.fixture(scope="session")
def test_stack():
    stack = TestStack()
    try:
        yield stack
    finally:
        stack.destroy()


@pytest.fixture(scope="session")
def stack_db(test_stack) -> dict[str, str]:
    """PostgreSQL running with the warehouse/alerts databases migrated; returns the stack env
    (stack.env's values, plus WATCHLIST_LOCAL_DIR and the ports)."""
    return test_stack.run("db")


@pytest.fixture(scope="session")
def stack_up(test_stack, stack_db) -> dict[str, str]:
    """The whole stack: PostgreSQL, alerting replicas and the load balancer."""
    return test_stack.run("up")


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
