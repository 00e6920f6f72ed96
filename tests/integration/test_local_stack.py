"""The local stack from a clone anywhere (scripts/stack.sh): a clone the `postgres` user and
nginx's workers cannot enter (root's home, a mode-700 mktemp dir), a second stack beside
another one, and nothing left behind after `destroy`."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import PORT_VARS, REPO_ROOT, TestStack, free_ports, load_env_file

pytestmark = pytest.mark.integration
STACK = REPO_ROOT / "scripts" / "stack.sh"


def stack_env(local_dir: Path, pg: int, lb: int, replica: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALERTS_", "AIRFLOW_CONN_")) and k not in ("WAREHOUSE_DSN", *PORT_VARS)}
    return {**env, "WATCHLIST_LOCAL_DIR": str(local_dir), "PG_PORT": str(pg), "ALERTS_LB_PORT": str(lb),
            "ALERTS_REPLICA_PORTS": str(replica), "PG_FSYNC": "off", "PG_SHARED_BUFFERS": "128MB"}


def processes_naming(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if text in line]


@pytest.fixture
def private_clone_dir():
    """Like `mktemp -d`: mode 700, so only its owner may enter it."""
    path = Path(tempfile.mkdtemp(prefix="clone-"))
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_stack_runs_from_a_directory_its_daemons_cannot_enter(private_clone_dir):
    local = private_clone_dir / "repo" / ".local"
    pg, lb, replica = free_ports(3)
    env = stack_env(local, pg, lb, replica)
    try:
        up = subprocess.run([str(STACK), "up"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stderr[-3000:]
        values = load_env_file(local / "stack.env")
        with psycopg.connect(values["WAREHOUSE_DSN"]) as conn:
            assert conn.execute("SELECT count(*) FROM warehouse.models").fetchone()[0] == 0
        # A body bigger than nginx's in-memory buffer goes to a temp file its worker
        # (user nobody, as root) writes: the service must answer, not nginx with a 500.
        big = requests.post(f"http://127.0.0.1:{lb}/v1/alerts", data=b"[" + b" " * 3_000_000 + b"]",
                            headers={"Content-Type": "application/json",
                                     "Authorization": f"Bearer {values['ALERTS_PIPELINE_TOKEN']}"}, timeout=60)
        assert big.status_code < 500, (big.status_code, big.text[:300])
        assert requests.get(f"http://127.0.0.1:{lb}/healthz", timeout=10).status_code == 200
    finally:
        down = subprocess.run([str(STACK), "destroy"], env=env, capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stderr[-3000:]
    # nothing of this stack runs or stays outside the clone, and the clone can go
    assert not processes_naming(f"-p {pg} ") and not processes_naming(f"--port {replica}")
    assert not processes_naming(str(local))
    assert not [o for o in Path("/var/lib/watchlist-screening").glob("*/owner") if o.read_text().strip() == str(local)]
    shutil.rmtree(private_clone_dir / "repo")


def test_a_second_stack_on_taken_ports_names_the_other_clone(stack_db, tmp_path):
    """make up in a second clone while the first one's stack holds the port: a clear error
    that names the first clone, never a connection to its database."""
    taken = stack_db["PG_PORT"]
    env = stack_env(tmp_path / ".local", int(taken), *free_ports(2))
    try:
        second = subprocess.run([str(STACK), "db"], env=env, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run([str(STACK), "destroy"], env=env, capture_output=True, timeout=300)
    assert second.returncode != 0
    assert f"port {taken} is taken by the local stack of {stack_db['WATCHLIST_LOCAL_DIR']}" in second.stderr \
        or os.geteuid() != 0, second.stderr


def test_the_session_stack_is_its_own(stack_db):
    """Tests never use the documented ports (a developer's `make up`, another clone's tests)."""
    assert stack_db["PG_PORT"] != "55432" and stack_db["ALERTS_LB_PORT"] != "8088"
    assert Path(stack_db["WATCHLIST_LOCAL_DIR"]).parent == REPO_ROOT / ".local" / "test-stacks"
    assert f":{stack_db['PG_PORT']}/" in stack_db["WAREHOUSE_DSN"]


def test_a_killed_session_stack_is_reaped(tmp_path):
    """A session that died without its teardown leaves a stack; the next session stops it."""
    root = tmp_path / "stacks"
    stack = TestStack(root)
    (stack.dir / "session.pid").write_text("999999999\n")  # no such process
    env = stack_env(stack.dir, *map(int, [stack.env["PG_PORT"], stack.env["ALERTS_LB_PORT"],
                                          stack.env["ALERTS_REPLICA_PORTS"].split()[0]]))
    try:
        subprocess.run([str(REPO_ROOT / "scripts" / "pg.sh"), "start"], env=env, check=True, capture_output=True)
        assert processes_naming(f"-p {stack.env['PG_PORT']} ")
        TestStack.reap_stale(root)
        assert not processes_naming(f"-p {stack.env['PG_PORT']} ")
        assert not stack.dir.exists()
    finally:
        TestStack.destroy_dir(stack.dir)
