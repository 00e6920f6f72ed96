"""Fan-outs of 5,000 alerts through the balancer while things break: a replica killed, the
database restarted. Every alert must arrive exactly once, with the client's retries.

Each test runs its own stack with scripts/alerting.sh (two replicas and nginx under a
temporary WATCHLIST_LOCAL_DIR, on free ports), so the shared local stack is never touched;
the database restart uses a second, private PostgreSQL cluster.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from watchlist_screening.alerts import AlertClient, batch_idempotency_key

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERTING_SH = REPO_ROOT / "scripts" / "alerting.sh"
PG_BIN = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]) if Path("/usr/lib/postgresql").exists() else None
N_ALERTS, BATCH = 5_000, 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_dir(prefix: str) -> Path:
    # Readable by nginx's workers (user nobody) and PostgreSQL (user postgres) when the
    # tests run as root: pytest's own tmp_path is private to root.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class DedicatedStack:
    """scripts/alerting.sh's replicas and balancer on their own ports and directory."""

    def __init__(self, dsn: str, **replica_env: str):
        self.dir = private_dir("alerting-stack-")
        self.replica_ports = [free_port(), free_port()]
        self.lb_port = free_port()
        self.url = f"http://127.0.0.1:{self.lb_port}"
        self.pipeline_token, self.reviewer_token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        exports = {"ALERTS_DB_DSN": dsn, "ALERTS_PIPELINE_TOKEN": self.pipeline_token,
                   "ALERTS_REVIEWER_TOKEN": self.reviewer_token, **replica_env}
        (self.dir / "stack.env").write_text("".join(f"export {k}='{v}'\n" for k, v in exports.items()))
        # Only this stack's settings: none of the shared stack's ALERTS_* from the session.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
        self.env.update(WATCHLIST_LOCAL_DIR=str(self.dir), ALERTS_LB_PORT=str(self.lb_port),
                        ALERTS_REPLICA_PORTS=" ".join(map(str, self.replica_ports)))
        try:
            self.script("start")
        except subprocess.CalledProcessError as exc:
            self.close()
            raise RuntimeError(f"dedicated stack did not start:\n{exc.stderr}") from None

    def script(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(ALERTING_SH), command], env=self.env, capture_output=True, text=True,
                              check=command != "status", timeout=120)

    def replica_pid(self, port: int) -> int:
        return int((self.dir / "run" / f"alerting-{port}.pid").read_text())

    def access_log(self) -> list[dict]:
        return [json.loads(line) for line in (self.dir / "logs" / "nginx-access.log").read_text().splitlines()]

    def close(self) -> None:
        self.script("stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def as_postgres(*command: str) -> list[str]:
    # PostgreSQL refuses to run as root (the same rule as scripts/pg.sh).
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PrivateCluster:
    """A throw-away PostgreSQL cluster, made the way scripts/pg.sh makes the project's."""

    def __init__(self) -> None:
        self.dir = private_dir("alerting-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data, self.port = self.dir / "data", free_port()
        subprocess.run(as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                                   "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                                   "--locale=C.UTF-8"), check=True, capture_output=True)
        with open(self.data / "postgresql.conf", "a") as conf:
            # Durability is not under test here; fsync off keeps the 2-core machine free.
            conf.write("listen_addresses = '127.0.0.1'\nfsync = off\nsynchronous_commit = off\n")
        self.start()
        password = secrets.token_urlsafe(16)
        try:
            self.psql(f"CREATE ROLE alerting LOGIN PASSWORD '{password}'", "CREATE DATABASE alerts OWNER alerting")
        except subprocess.CalledProcessError:
            self.close()
            raise
        self.dsn = f"postgresql://alerting:{password}@127.0.0.1:{self.port}/alerts"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args),
                       check=True, capture_output=True)

    def start(self) -> None:
        self.pg_ctl("-l", str(self.dir / "server.log"), "-o", f"-p {self.port} -k {self.dir}", "start")

    def psql(self, *statements: str) -> None:
        # One -c each: CREATE DATABASE refuses to share a transaction.
        commands = [arg for sql in statements for arg in ("-c", sql)]
        subprocess.run(as_postgres(str(PG_BIN / "psql"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                                   "-v", "ON_ERROR_STOP=1", "-q", *commands), check=True, capture_output=True)

    def close(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def fan_out(stack: DedicatedStack, run: str, day: str, disrupt, *, after_batches: int = 10) -> tuple[list, list]:
    """Send N_ALERTS in batches from four senders (like mapped Airflow tasks), calling
    `disrupt()` once `after_batches` batches are through; return (batches, results)."""
    batches = [[an_alert(f"{run}{b:03d}-{i:03d}", day) for i in range(BATCH)] for b in range(N_ALERTS // BATCH)]
    keys = [batch_idempotency_key(day, b, batch) for b, batch in enumerate(batches)]
    done = threading.Semaphore(0)

    def send(b: int) -> dict:
        # ~20 s of retries: a database restart on a loaded machine plus the balancer's
        # fail_timeout (5 s with every replica marked failed) outlasted ~8 s in one CI run
        with AlertClient(stack.url, stack.pipeline_token, max_retries=12, backoff_base=0.2, backoff_max=2.0) as client:
            result = client.send_batch(batches[b], keys[b])
        done.release()
        return result

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send, b) for b in range(len(batches))]
        for _ in range(after_batches):
            done.acquire(timeout=60)
        disrupt()
        results = [f.result(timeout=120) for f in futures]
    return list(zip(batches, keys)), results


def an_alert(scan_id: str, day: str) -> dict:
    return {"scan_id": scan_id, "subject_id": "W-1", "airport": "LHR", "date": day, "match_probability": 0.97,
            "match_weight": 13.5, "model_version": "model-1", "evidence": {"face": 9.1, "surname": 1.5}}


def assert_each_alert_once(stack: DedicatedStack, dsn: str, run: str, day: str, results: list[dict]) -> None:
    assert all(r["received"] == BATCH for r in results)
    # Replays of a stored batch answer with its first response, so "created" adds up exactly.
    assert sum(r["created"] for r in results) == N_ALERTS
    with psycopg.connect(dsn) as conn:
        counts = conn.execute("SELECT count(*), count(DISTINCT (scan_id, subject_id)) FROM alerts.alerts "
                              "WHERE scan_id LIKE %s", [run + "%"]).fetchone()
    assert counts == (N_ALERTS, N_ALERTS)
    listed = requests.get(f"{stack.url}/v1/alerts", params={"date": day},
                          headers={"Authorization": f"Bearer {stack.reviewer_token}"}, timeout=30)
    assert listed.status_code == 200
    assert len({a["scan_id"] for a in listed.json() if a["scan_id"].startswith(run)}) == N_ALERTS


@pytest.fixture
def stack(alerts_db_dsn) -> Iterator[DedicatedStack]:
    started = DedicatedStack(alerts_db_dsn)
    yield started
    started.close()


def test_killing_a_replica_mid_fan_out_loses_and_doubles_nothing(stack, alerts_db_dsn):
    run, day = f"kill-{uuid.uuid4().hex[:8]}-", "2040-01-01"
    victim = stack.replica_ports[0]

    def crash() -> None:
        os.kill(stack.replica_pid(victim), signal.SIGKILL)  # requests in flight, no goodbye

    sent, results = fan_out(stack, run, day, crash)
    assert_each_alert_once(stack, alerts_db_dsn, run, day, results)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", victim)):
        pass
    # The balancer met the dead replica and moved those requests to the other one.
    assert any(f"127.0.0.1:{victim}, " in entry["upstream"] for entry in stack.access_log())

    # The pipeline re-sending the whole day (an Airflow retry) is answered from the stored responses.
    with AlertClient(stack.url, stack.pipeline_token) as client:
        assert [client.send_batch(batch, key) for batch, key in sent] == results
    stack.script("start")  # brings the victim back
    assert stack.script("status").returncode == 0


def test_a_rolling_restart_mid_fan_out_is_invisible_but_for_new_pids(stack, alerts_db_dsn):
    run, day = f"roll-{uuid.uuid4().hex[:8]}-", "2040-01-03"
    before = [stack.replica_pid(port) for port in stack.replica_ports]
    _, results = fan_out(stack, run, day, lambda: stack.script("restart"))
    assert_each_alert_once(stack, alerts_db_dsn, run, day, results)
    after = [stack.replica_pid(port) for port in stack.replica_ports]
    assert not set(before) & set(after)
    # Graceful: no request was cut off; none needed the client's own retries.
    posts = [entry for entry in stack.access_log() if entry["method"] == "POST"]
    assert len(posts) == N_ALERTS // BATCH and {entry["status"] for entry in posts} == {202}, posts


@pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL server binaries not installed")
def test_restarting_the_database_mid_fan_out_delays_but_loses_nothing():
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    cluster = PrivateCluster()
    try:
        apply_migrations(cluster.dsn, SQL_ROOT / "alerts")
        stack = DedicatedStack(cluster.dsn, ALERTS_DB_POOL_TIMEOUT_SECONDS="2")
        try:
            run, day = f"pgrestart-{uuid.uuid4().hex[:8]}-", "2040-01-02"

            def restart_database() -> None:
                cluster.pg_ctl("-m", "fast", "stop")  # ends every session, in-flight transactions too
                time.sleep(1.0)
                cluster.start()

            _, results = fan_out(stack, run, day, restart_database)
            assert_each_alert_once(stack, cluster.dsn, run, day, results)
            # The outage was met (503s, retried by the balancer and then by the client) ...
            assert any("503" in entry["upstream_status"] for entry in stack.access_log())
            # ... and both replicas are ready again without a restart of their own.
            for port in stack.replica_ports:
                assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        finally:
            stack.close()
    finally:
        cluster.close()
