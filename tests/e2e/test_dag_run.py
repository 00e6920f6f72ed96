"""One whole day through Airflow on generated data with known truth.

Runs `scripts/run_day.sh` (= `make run`: `airflow dags test` on the real DAG) against the
test session's stack (tests/conftest.py), in a throw-away warehouse database and Airflow home, then scores the
alerts the service holds against the generator's truth. Runs the same day twice to prove
re-runs replace rows and never duplicate alerts, the second time over the gRPC transport.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest
import requests

from watchlist_screening.evaluation.screening_truth import alert_pairs_from_service, evaluate, load_truth
from tests.e2e.airflow_home import REPO_ROOT, airflow_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DAY = "2031-03-14"  # a day no other test or demo uses, so the alerts service holds only ours
SIGHTINGS = 24
BAD_LINES = 10


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    from watchlist_screening.generator.cli import main as generate

    root = tmp_path_factory.mktemp("landing")
    assert generate(["--landing-dir", str(root), "--date", DAY, "--watchlist-size", "5000",
                     "--airports", "LHR,CDG", "--passengers-per-airport", "5000",
                     "--sightings", str(SIGHTINGS), "--bad-lines", str(BAD_LINES), "--seed", "11"]) == 0
    return root


def forget_alerts_of_the_day(alerts_dsn: str) -> None:
    """The service is the session's (tests/conftest.py), shared by every test in it: start
    from no alerts for our day, keys included, or replays would answer for them."""
    with psycopg.connect(alerts_dsn) as conn:
        conn.execute("DELETE FROM alerts.idempotency_keys WHERE idempotency_key LIKE %s", (f"alerts-{DAY}-%",))
        conn.execute("DELETE FROM alerts.alerts WHERE date = %s", (DAY,))


@pytest.fixture(scope="module")
def run_env(stack_up, warehouse_dsn, tmp_path_factory) -> dict[str, str]:
    forget_alerts_of_the_day(stack_up["ALERTS_DB_DSN"])
    return airflow_env(tmp_path_factory.mktemp("airflow"), warehouse_dsn)


def run_day(landing: Path, env: dict[str, str]) -> dict:
    done = subprocess.run([str(REPO_ROOT / "scripts" / "run_day.sh"), DAY, str(landing)], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def day_rows(dsn: str) -> dict[str, list]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT {cols} FROM warehouse.{table} WHERE scan_day = %s ORDER BY 1, 2", (DAY,)).fetchall()
            for table, cols in (("passengers", "scan_id, source_file, full_name_norm"),
                                ("quarantine", "source_file, line_number, reason"),
                                ("matches", "scan_id, subject_id, round(match_probability::numeric, 6)"))
        }


def total_lines(landing: Path) -> int:
    return sum(len(path.read_bytes().splitlines()) for path in (landing / "passengers" / DAY).glob("*.jsonl"))


def assert_reports_open_from_the_alerts(url: str, token: str, day: dt.date, model_version: str) -> None:
    """Every alert links to its own section of the day's run report, which a logged-in
    reviewer opens through the review page, and which links to the model's report."""
    listed = requests.get(f"{url}/v1/alerts", params={"date": day.isoformat(), "limit": 500},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    assert listed
    reviewer = requests.Session()
    assert requests.get(f"{url}/review/reports/run-{DAY}.html", allow_redirects=False, timeout=30).status_code == 303
    reviewer.post(f"{url}/review/login", data={"reviewer": "e2e", "token": token}, timeout=30).raise_for_status()
    page = reviewer.get(f"{url}/review/reports/run-{DAY}.html", timeout=60)
    assert page.status_code == 200, page.text[:500]
    for alert in listed:
        link = alert["run_report_url"]
        assert link.startswith(f"{url}/review/reports/run-{DAY}.html#alert-"), link
        assert f'id="{link.split("#", 1)[1]}"' in page.text
    model_page = reviewer.get(f"{url}/review/reports/{model_version}.html", timeout=60)
    assert model_page.status_code == 200 and model_version in model_page.text
    assert f"/review/reports/{model_version}.html" in page.text


def test_day_end_to_end_and_rerun(landing, run_env, warehouse_dsn):
    day = dt.date.fromisoformat(DAY)
    truth = load_truth(landing, day)
    bad_lines = (landing / "truth" / f"{DAY}.bad_lines.jsonl").read_text().splitlines()
    assert len(truth) == SIGHTINGS and len(bad_lines) == BAD_LINES

    first = run_day(landing, run_env)
    assert first["date"] == DAY
    # every line is accounted for: a passenger row or a quarantined line, never dropped
    assert first["passengers"] + first["quarantined"] == total_lines(landing)
    assert first["quarantined"] == BAD_LINES
    assert sum(first["quarantined_by_reason"].values()) == BAD_LINES
    assert first["candidate_pairs"] <= 50 * first["passengers"]
    assert first["alerts_sent"] == first["matches"] > 0
    assert first["model_version"].startswith(DAY.replace("-", "")), "a fresh warehouse trains on the day itself"
    # where the run's time, CPU and memory went, per task; normalise's CPU includes the
    # spark-submit JVM it waited for, a child process
    tasks = {t["task_id"]: t for t in first["tasks"]}
    assert {"normalise", "ensure_model", "score_day", "send_alerts"} <= set(tasks), sorted(tasks)
    assert all(t["cpu_seconds"] is not None and t["peak_memory_mb"] > 0 for t in tasks.values()), tasks
    assert tasks["normalise"]["cpu_seconds"] > 5 and tasks["normalise"]["peak_memory_mb"] > 300, tasks["normalise"]

    url, token = os.environ["ALERTS_URL"], os.environ["ALERTS_REVIEWER_TOKEN"]
    alerts = alert_pairs_from_service(url, token, day)
    result = evaluate(truth, alerts, day)
    assert result.sightings_found == result.sightings, f"missed sightings: {result.missed_scan_ids}"
    assert result.precision >= 0.9, f"false alerts: {result.false_alerts}"

    assert_reports_open_from_the_alerts(url, token, day, first["model_version"])
    with psycopg.connect(warehouse_dsn) as conn:
        groups = conn.execute("SELECT scan_id, group_id FROM warehouse.matches WHERE scan_day = %s", (DAY,)).fetchall()
    # every alert carries the group of the person seen (grouping.py, through score_day)
    assert groups and all(g and g.startswith(DAY.replace("-", "") + "-") for _, g in groups), groups[:5]

    rows_before = day_rows(warehouse_dsn)
    # the re-run fans out over gRPC (WATCHLIST_ALERT_TRANSPORT): the same alerts, once each
    second = run_day(landing, {**run_env, "WATCHLIST_ALERT_TRANSPORT": "grpc"})
    assert {**second, "tasks": None} == {**first, "tasks": None}
    assert day_rows(warehouse_dsn) == rows_before
    assert sorted(alert_pairs_from_service(url, token, day)) == sorted(alerts)
