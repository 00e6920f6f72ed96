"""Chaos during a day's fan-out (issue 13): a replica killed and PostgreSQL restarted while
the DAG's send_alerts tasks run, then the day re-run with another model under the same
treatment. Every alert the last run supports exists exactly once and is active with its
model, every one it does not support is withdrawn, and no reviewer decision is lost.

The fan-out runs the DAG's own task bodies (tasks.plan_alert_batches, tasks.send_alert_batch)
from four threads, as the mapped tasks run with max_active_tis_per_dagrun=4, with the DAG's
retries (a task whose client gave up is run again); the alerting stack is scripts/alerting.sh
on a private PostgreSQL cluster, so the shared stack is never touched.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from tests.integration.test_alerting_resilience import PG_BIN, DedicatedStack, PrivateCluster
from watchlist_screening.orchestration import tasks as day_tasks

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DAY = dt.date(2041, 9, 1)
BATCH_SIZE, DAG_RETRIES = 20, 3  # 20 batches per run: the chaos lands mid-fan-out


def load_matches(dsn: str, matches: dict[str, str], model: str) -> None:
    """The rows score_day leaves for the day: passengers, watchlist, matches (scan -> subject)."""
    emb = [0.0] * 128
    with psycopg.connect(dsn) as conn:
        version = conn.execute(
            "INSERT INTO warehouse.watchlist_versions (content_hash, source_file, row_count, quarantined) "
            "VALUES ('chaos-test', 'w.jsonl', 0, 0) ON CONFLICT (content_hash) DO UPDATE SET row_count = 0 "
            "RETURNING version_id").fetchone()[0]
        conn.execute(f"CREATE TABLE IF NOT EXISTS warehouse.passengers_{DAY:%Y%m%d}_chaos "
                     f"PARTITION OF warehouse.passengers FOR VALUES IN ('{DAY}')")
        conn.execute("DELETE FROM warehouse.matches WHERE scan_day = %s", (DAY,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO warehouse.watchlist (version_id, subject_id, surname, all_names_norm, all_dobs, sex, "
                "height_cm, eye_colour, face_embedding, source_line) VALUES (%s, %s, 'Lee', '{}', '{}', 'F', 170, "
                "'brown', %s, 1) ON CONFLICT DO NOTHING", [(version, s, emb) for s in set(matches.values())])
            cur.executemany(
                "INSERT INTO warehouse.passengers (scan_day, scan_id, airport, scanned_at, surname, sex, height_cm, "
                "eye_colour, face_embedding, source_file, source_line) VALUES (%s, %s, 'LHR', %s, 'Li', 'F', 171, "
                "'brown', %s, 'LHR.jsonl', 1) ON CONFLICT DO NOTHING",
                [(DAY, s, dt.datetime(2041, 9, 1, 9, tzinfo=dt.timezone.utc), emb) for s in matches])
            cur.executemany(
                "INSERT INTO warehouse.matches (scan_day, scan_id, subject_id, watchlist_version, model_version, "
                "match_probability, match_weight, photo_similarity, evidence, group_id) "
                "VALUES (%s, %s, %s, %s, %s, 0.97, 11.0, 0.9, %s, %s)",
                [(DAY, scan, subject, version, model, json.dumps({"face": 9.0}), f"{model}-{scan}")
                 for scan, subject in matches.items()])


def fan_out_with_chaos(model: str, n_matches: int, chaos: list) -> None:
    """The day's send_alerts tasks, four at a time with the DAG's retries; chaos[i]() runs
    once (i + 1) * 3 batches are through."""
    from airflow.sdk.exceptions import AirflowFailException

    batches = day_tasks.plan_alert_batches({"scan_day": DAY.isoformat(), "dry_run": False},
                                           {"matches": n_matches, "model_version": model})
    done = threading.Semaphore(0)

    def task(batch: dict) -> dict:
        for attempt in range(DAG_RETRIES + 1):
            try:
                result = day_tasks.send_alert_batch(batch)
                done.release()
                return result
            except AirflowFailException:
                raise  # a refusal: the DAG would not retry either
            except Exception:
                if attempt == DAG_RETRIES:
                    raise
                time.sleep(2)  # the DAG's retry_delay, shortened

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(task, b) for b in batches]
        for step, disrupt in enumerate(chaos):
            for _ in range(3):
                assert done.acquire(timeout=120), f"fan-out stalled before chaos step {step}"
            disrupt()
        for f in futures:
            f.result(timeout=600)


@pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL server binaries not installed")
def test_kill_a_replica_and_restart_postgres_during_fan_out_then_rerun_with_another_model(
        warehouse_dsn, monkeypatch, tmp_path):
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    cluster = PrivateCluster()
    try:
        apply_migrations(cluster.dsn, SQL_ROOT / "alerts")
        stack = DedicatedStack(cluster.dsn, ALERTS_DB_POOL_TIMEOUT_SECONDS="2")
        try:
            run_chaos_scenario(stack, cluster, warehouse_dsn, monkeypatch, tmp_path)
        finally:
            stack.close()
    finally:
        cluster.close()


def run_chaos_scenario(stack: DedicatedStack, cluster: PrivateCluster, warehouse_dsn: str, monkeypatch,
                       tmp_path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_POSTGRES", warehouse_dsn)
    monkeypatch.setenv("AIRFLOW_CONN_ALERTING_SERVICE", json.dumps({
        "conn_type": "http", "host": "127.0.0.1", "port": stack.lb_port, "schema": "http",
        "password": stack.pipeline_token}))
    monkeypatch.setenv("WATCHLIST_REPORT_DIR", str(tmp_path))
    monkeypatch.setenv("WATCHLIST_ALERT_BATCH_SIZE", str(BATCH_SIZE))
    reviewer = {"Authorization": f"Bearer {stack.reviewer_token}"}

    def kill_replica(port: int):
        return lambda: os.kill(stack.replica_pid(port), signal.SIGKILL)

    def restart_postgres() -> None:
        cluster.pg_ctl("-m", "fast", "stop")  # ends every session, in-flight transactions too
        time.sleep(1.0)
        cluster.start()

    # Run 1: 400 matches (10 batches), model-1.
    first = {f"C-{i:04d}": f"W-{i % 37}" for i in range(400)}
    load_matches(warehouse_dsn, first, "model-1")
    fan_out_with_chaos("model-1", len(first), [kill_replica(stack.replica_ports[0]), restart_postgres])

    log = stack.access_log()
    # The chaos was met: requests moved off the killed replica, and 503s while the database was away.
    assert any(f"127.0.0.1:{stack.replica_ports[0]}, " in e["upstream"] or e["status"] >= 500 for e in log)
    assert any("503" in e["upstream_status"] for e in log), "the database restart was not met"
    listed = requests.get(f"{stack.url}/v1/alerts", params={"date": DAY.isoformat()}, headers=reviewer, timeout=60)
    assert listed.status_code == 200
    by_pair = {(a["scan_id"], a["subject_id"]): a for a in listed.json()}
    assert set(by_pair) == set(first.items())
    # Reviewers decide on some alerts the re-run will drop and some it will keep.
    decisions = {}
    for i, decision in ((1, "confirmed"), (2, "false_positive"), (300, "confirmed"), (301, "needs_info")):
        pair = (f"C-{i:04d}", first[f"C-{i:04d}"])
        answer = requests.patch(f"{stack.url}/v1/alerts/{by_pair[pair]['alert_id']}", headers=reviewer,
                                json={"decision": decision, "reviewer": "Ann"}, timeout=30)
        assert answer.status_code == 200
        decisions[pair] = decision

    # Run 2, another model: drops C-0000..C-0099, keeps the rest, adds C-0400..C-0449.
    stack.script("start")  # the killed replica comes back, as its supervisor would bring it
    second = {k: v for k, v in first.items() if int(k[2:]) >= 100}
    second.update({f"C-{i:04d}": f"W-{i % 37}" for i in range(400, 450)})
    load_matches(warehouse_dsn, second, "model-2")
    fan_out_with_chaos("model-2", len(second), [kill_replica(stack.replica_ports[1]), restart_postgres])

    with psycopg.connect(cluster.dsn) as conn:
        rows = conn.execute(
            "SELECT scan_id, subject_id, model_version, withdrawn_at IS NOT NULL, withdrawn_by_model, status "
            "FROM alerts.alerts WHERE date = %s", (DAY,)).fetchall()
        reviews = conn.execute("SELECT a.scan_id, r.decision FROM alerts.reviews r JOIN alerts.alerts a "
                               "USING (alert_id) ORDER BY r.review_id").fetchall()
    pairs = [(scan, subject) for scan, subject, *_ in rows]
    assert len(pairs) == len(set(pairs)) == len(set(first.items()) | set(second.items()))
    state = {(scan, subject): rest for scan, subject, *rest in rows}
    for pair in second.items():  # supported: exactly once, active, the new model's
        model, withdrawn, _, _ = state[pair]
        assert (model, withdrawn) == ("model-2", False), pair
    for pair in set(first.items()) - set(second.items()):  # unsupported: withdrawn by the new run
        _, withdrawn, by_model, _ = state[pair]
        assert (withdrawn, by_model) == (True, "model-2"), pair
    # Every decision is still there, in the trail and on the alert.
    assert [(scan, d) for scan, d in reviews] == [(scan, d) for (scan, _), d in decisions.items()]
    for pair, decision in decisions.items():
        assert state[pair][3] == decision
    listed = requests.get(f"{stack.url}/v1/alerts", params={"date": DAY.isoformat()}, headers=reviewer,
                          timeout=60).json()
    statuses = {(a["scan_id"], a["subject_id"]): a["status"] for a in listed}
    assert statuses[("C-0001", first["C-0001"])] == "withdrawn"
    assert statuses[("C-0300", first["C-0300"])] == "confirmed"
