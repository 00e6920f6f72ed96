"""The pipeline's fan-out (tasks.plan_alert_batches / tasks.send_alert_batch, as the DAG's tasks
call them) against a real warehouse and real replicas: a refused alert does not lose its
batch and is reported by name, values at the contract's bounds arrive intact, and re-runs
of a day update what they still support and withdraw the rest, empty re-runs included."""
from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
from test_alerting_service import (  # noqa: F401 (replicas: the module's fixture)
    PIPELINE_TOKEN, REVIEWER_TOKEN, get, patch, replicas)

from watchlist_screening.orchestration import tasks as day_tasks

pytestmark = pytest.mark.integration

DAY = dt.date(2041, 6, 1)
LONG_OFFENCE = "Ω" * 1000 + "𐍈" * 1000  # the contract's 2,000 characters of free text
TOO_LONG_ID = "W" * 300  # beyond the service's identifiers: refused, named to on-call


def load_day(dsn: str, subjects: list[str], matches: list[tuple[str, str, float]], model: str) -> None:
    """The warehouse rows a scored day leaves: watchlist, passengers, matches."""
    emb = [0.0] * 128
    with psycopg.connect(dsn) as conn:
        version = conn.execute(
            "INSERT INTO warehouse.watchlist_versions (content_hash, source_file, row_count, quarantined) "
            "VALUES (%s, 'w.jsonl', %s, 0) ON CONFLICT (content_hash) DO UPDATE SET row_count = EXCLUDED.row_count "
            "RETURNING version_id", (f"fanout-test-{DAY}", len(subjects))).fetchone()[0]
        for i, subject in enumerate(subjects):
            conn.execute(
                "INSERT INTO warehouse.watchlist (version_id, subject_id, given_names, surname, all_names_norm, "
                "all_dobs, sex, height_cm, eye_colour, face_embedding, offence, source_line) "
                "VALUES (%s, %s, 'Anna', 'Lee', '{}', '{}', 'F', 170, 'brown', %s, %s, %s) ON CONFLICT DO NOTHING",
                (version, subject, emb, LONG_OFFENCE, i + 1))
        part = f"passengers_{DAY:%Y%m%d}_fanout"
        conn.execute(f"CREATE TABLE IF NOT EXISTS warehouse.{part} PARTITION OF warehouse.passengers "
                     f"FOR VALUES IN ('{DAY}')")
        conn.execute("DELETE FROM warehouse.matches WHERE scan_day = %s", (DAY,))
        for scan_id, subject, probability in matches:
            conn.execute(
                "INSERT INTO warehouse.passengers (scan_day, scan_id, airport, scanned_at, given_names, surname, sex, "
                "height_cm, eye_colour, face_embedding, source_file, source_line) "
                "VALUES (%s, %s, 'LHR', %s, 'Ana', 'Li', 'F', 171, 'brown', %s, 'LHR.jsonl', 1) ON CONFLICT DO NOTHING",
                (DAY, scan_id, dt.datetime(2041, 6, 1, 12, tzinfo=dt.timezone.utc), emb))
            conn.execute(
                "INSERT INTO warehouse.matches (scan_day, scan_id, subject_id, watchlist_version, model_version, "
                "match_probability, match_weight, photo_similarity, evidence, group_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, 9.5, 0.9, %s, %s)",
                (DAY, scan_id, subject, version, model, probability, json.dumps({"face": probability * 10}),
                 f"{model}-g"))


@pytest.fixture
def pipeline(replicas, warehouse_dsn, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_POSTGRES", warehouse_dsn)
    monkeypatch.setenv("AIRFLOW_CONN_ALERTING_SERVICE", json.dumps({
        "conn_type": "http", "host": "127.0.0.1", "port": replicas[0].port, "schema": "http",
        "password": PIPELINE_TOKEN}))
    monkeypatch.setenv("WATCHLIST_REPORT_DIR", str(tmp_path))
    monkeypatch.setenv("WATCHLIST_ALERT_BATCH_SIZE", "2")
    return replicas[1].url


def plan(model: str, matches: int) -> list[dict]:
    return day_tasks.plan_alert_batches({"scan_day": DAY.isoformat(), "dry_run": False},
                                        {"matches": matches, "model_version": model})


def run_fan_out(model: str, matches: int, batches: list[dict] | None = None) -> tuple[list[dict], list[str]]:
    """plan_alert_batches then every mapped send_alerts; returns results and failures."""
    from airflow.sdk.exceptions import AirflowFailException

    batches = plan(model, matches) if batches is None else batches
    sent, failures = [], []
    for batch in batches:
        try:
            sent.append(day_tasks.send_alert_batch(batch))
        except AirflowFailException as exc:
            failures.append(str(exc))
    return sent, failures


def listed(url: str) -> dict[tuple[str, str], dict]:
    return {(a["scan_id"], a["subject_id"]): a for a in get(url, date=DAY.isoformat()).json()}


def test_fan_out_refuses_one_alert_and_reruns_update_and_withdraw(pipeline, warehouse_dsn, caplog, capsys):
    subjects = ["S-1", "S-2", TOO_LONG_ID]
    first = [("P-1", "S-1", 0.99), ("P-2", "S-2", 0.97), ("P-3", "S-1", 0.95), ("P-4", TOO_LONG_ID, 0.93),
             ("P-5", "S-2", 0.91)]
    load_day(warehouse_dsn, subjects, first, "model-1")
    sent, failures = run_fan_out("model-1", len(first))

    # The batch holding the too-long id failed its task naming the alert; the rest arrived.
    (failure,) = failures
    assert "P-4" in failure and TOO_LONG_ID[:50] in failure and "subject_id" in failure
    assert "the other 1 were delivered" in failure
    captured = capsys.readouterr()  # Airflow's structlog writes to stdout, plain logging to caplog
    assert "ALERT REFUSED" in captured.out + captured.err + caplog.text
    alerts = listed(pipeline)
    assert set(alerts) == {("P-1", "S-1"), ("P-2", "S-2"), ("P-3", "S-1"), ("P-5", "S-2")}
    assert all(a["status"] == "new" and a["model_version"] == "model-1" for a in alerts.values())
    # Free text at the contract's bound travels intact.
    assert alerts[("P-1", "S-1")]["subject"]["offence"] == LONG_OFFENCE
    decided = alerts[("P-3", "S-1")]["alert_id"]
    assert patch(pipeline, decided, {"decision": "confirmed", "reviewer": "Ann"}).status_code == 200

    # A plan of model-1 made before the re-run, whose batches only get sent after it.
    stale_plan = plan("model-1", len(first))

    # A re-run with another model that no longer supports P-3 and P-5.
    second = [("P-1", "S-1", 0.98), ("P-2", "S-2", 0.96), ("P-6", "S-2", 0.9)]
    load_day(warehouse_dsn, subjects, second, "model-2")
    second_plan = plan("model-2", len(second))
    sent, failures = run_fan_out("model-2", len(second), second_plan)
    assert failures == [] and sum(s["accepted"] for s in sent) == 3
    alerts = listed(pipeline)
    assert len(alerts) == 5  # nothing deleted, nothing doubled
    active = {k for k, a in alerts.items() if a["status"] != "withdrawn"}
    assert active == {("P-1", "S-1"), ("P-2", "S-2"), ("P-6", "S-2")}
    assert {a["model_version"] for k, a in alerts.items() if k in active} == {"model-2"}
    assert alerts[("P-1", "S-1")]["match_probability"] == 0.98 and alerts[("P-1", "S-1")]["revision"] == 2
    gone = alerts[("P-3", "S-1")]
    assert (gone["status"], gone["review_status"], gone["withdrawn_by_model"]) == ("withdrawn", "confirmed", "model-2")
    assert gone["withdrawn_by_run"] == alerts[("P-1", "S-1")]["run_id"]

    # Sending the same run's batches again (task retries) changes nothing; the older plan's
    # batches, sent late (a cleared task), are skipped without failing and change nothing.
    before = listed(pipeline)
    assert run_fan_out("model-2", len(second), second_plan)[1] == []
    sent, failures = run_fan_out("model-1", len(first), stale_plan)
    assert failures == [] and all(s.get("superseded") for s in sent[:2])
    assert listed(pipeline) == before

    # A re-run that finds no match at all withdraws every alert of the day.
    load_day(warehouse_dsn, subjects, [], "model-3")
    sent, failures = run_fan_out("model-3", 0)
    assert sent == [] and failures == []
    alerts = listed(pipeline)
    assert len(alerts) == 5 and {a["status"] for a in alerts.values()} == {"withdrawn"}
    assert alerts[("P-3", "S-1")]["review_status"] == "confirmed"
    assert {a["withdrawn_by_model"] for k, a in alerts.items() if k in active} == {"model-3"}
