"""Chaos during a fan-out over gRPC (issue 16): 5,000 alerts in batches from four senders
through the balancer's grpc_pass with the pipeline's gRPC transport
(alerts/grpc_transport.py), while a replica is killed and later PostgreSQL restarts. Every
alert must be stored exactly once, every batch answered in full.

The stack is scripts/alerting.sh's (two replicas and nginx on free ports, see
tests/integration/test_alerting_resilience.py) on a private PostgreSQL cluster.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.integration.test_alerting_resilience import PG_BIN, DedicatedStack, PrivateCluster, an_alert
from watchlist_screening.alerts import batch_idempotency_key
from watchlist_screening.alerts.grpc_transport import GrpcAlertClient

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

N_ALERTS, BATCH, SENDERS = 5_000, 100, 4
DAY = "2042-03-04"


def grpc_ports(stack: DedicatedStack) -> dict[str, str]:
    # alerting.sh chose the gRPC ports (free ones) and wrote them to the stack's ports.env.
    return dict(line.split("=", 1) for line in (stack.dir / "ports.env").read_text().splitlines() if "=" in line)


@pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL server binaries not installed")
def test_a_replica_killed_and_postgres_restarted_during_a_grpc_fan_out_store_every_alert_once():
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    cluster = PrivateCluster()
    try:
        apply_migrations(cluster.dsn, SQL_ROOT / "alerts")
        stack = DedicatedStack(cluster.dsn, ALERTS_DB_POOL_TIMEOUT_SECONDS="2")
        try:
            run(stack, cluster)
        finally:
            stack.close()
    finally:
        cluster.close()


def run(stack: DedicatedStack, cluster: PrivateCluster) -> None:
    target = f"127.0.0.1:{grpc_ports(stack)['ALERTS_GRPC_LB_PORT']}"
    batches = [[an_alert(f"GC{b:03d}-{i:03d}", DAY) for i in range(BATCH)] for b in range(N_ALERTS // BATCH)]
    done = threading.Semaphore(0)

    def send(b: int) -> dict:
        # A client per task, as each mapped Airflow task has; the transport's own retries
        # (shortened backoff) carry it over the chaos.
        with GrpcAlertClient(target, stack.pipeline_token, backoff_base=0.2, backoff_max=2.0, max_retries=8) as client:
            result = client.send_batch(batches[b], batch_idempotency_key(DAY, b, batches[b]))
        done.release()
        return result

    def restart_postgres() -> None:
        cluster.pg_ctl("-m", "fast", "stop")
        time.sleep(1.0)
        cluster.start()

    chaos = [lambda: os.kill(stack.replica_pid(stack.replica_ports[0]), signal.SIGKILL), restart_postgres]
    with ThreadPoolExecutor(SENDERS) as pool:
        futures = [pool.submit(send, b) for b in range(len(batches))]
        for step, disrupt in enumerate(chaos):
            for _ in range(10):
                assert done.acquire(timeout=120), f"fan-out stalled before chaos step {step}"
            disrupt()
        results = [f.result(timeout=600) for f in futures]

    for b, result in enumerate(results):
        # Every batch answered in full: a retry of a batch the killed replica had stored is
        # its replay (same answer) or, for alerts stored before the kill, duplicates.
        assert result["received"] == BATCH and result["refused"] == 0, b
        assert result["created"] + result["duplicates"] + result["updated"] == BATCH, b
        assert {r["scan_id"] for r in result["results"]} == {a["scan_id"] for a in batches[b]}
    with psycopg.connect(cluster.dsn) as conn:
        pairs = conn.execute("SELECT scan_id, subject_id FROM alerts.alerts WHERE date = %s", (DAY,)).fetchall()
    assert len(pairs) == len(set(pairs)) == N_ALERTS
    assert sum(r["created"] for r in results) == N_ALERTS
    # The killed replica had served gRPC calls (so calls were moving off it after the kill).
    killed = f"127.0.0.1:{grpc_ports(stack)['ALERTS_GRPC_REPLICA_PORTS'].split()[0]}"
    upstreams = [e["upstream"] for e in stack.access_log() if "Alerts/SubmitAlerts" in e["uri"]]
    assert len(upstreams) >= len(batches) and any(killed in u for u in upstreams)
