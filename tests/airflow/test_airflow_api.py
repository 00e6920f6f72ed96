"""Operating the pipeline as a user does, through Airflow's REST API v2 on the instance that
`make airflow` starts: trigger a day, backfill three days in parallel, clear a failed task
once its cause is fixed — and on-call hears about a failure on its webhook."""
from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from watchlist_screening.evaluation.screening_truth import alert_pairs_from_service, evaluate, load_truth

from .conftest import (BACKFILL_DAYS, BAD_LINES, CLEAR_DAY, DEADLINE_SECONDS, LATE_DAY, ONCALL_DAY, SIGHTINGS,
                       TRIGGER_DAY, AirflowInstance)

pytestmark = [pytest.mark.integration]

TASKS = {"prepare_day", "wait_for_landing_files", "normalise", "ensure_model", "score_day", "write_reports",
         "plan_alert_batches", "send_alerts", "summarise_day"}
RUN_TIMEOUT = 900  # seconds; typically 1-2 min per run, but the machine is shared


def total_lines(landing: Path, day: str) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in (landing / "passengers" / day).glob("*.jsonl"))


def assert_day_screened(airflow_ui: AirflowInstance, api, run_id: str, day: str) -> dict:
    """The run screened `day` and only `day`: its summary, the warehouse and the alerts agree
    with the generator's truth for that day (the same files in every landing dir used here)."""
    states = api.task_states(run_id)
    assert {t.split("[")[0] for t in states} == TASKS
    assert set(states.values()) == {"success"}, states
    summary = api.xcom(run_id, "summarise_day")
    assert summary["date"] == day
    assert summary["passengers"] + summary["quarantined"] == total_lines(airflow_ui.landing, day)
    assert summary["quarantined"] == BAD_LINES == sum(summary["quarantined_by_reason"].values())
    assert summary["alerts_sent"] == summary["matches"] > 0
    with psycopg.connect(airflow_ui.warehouse_dsn) as conn:
        sources = {r[0] for r in conn.execute(
            "SELECT DISTINCT source_file FROM warehouse.passengers WHERE scan_day = %s", (day,))}
        recorded = conn.execute("SELECT passengers, matches, alerts_sent FROM warehouse.day_runs WHERE scan_day = %s",
                                (day,)).fetchone()
    assert sources and all(day in source for source in sources), sources
    assert recorded == (summary["passengers"], summary["matches"], summary["alerts_sent"])

    truth = load_truth(airflow_ui.landing, dt.date.fromisoformat(day))
    assert len(truth) == SIGHTINGS
    alerts = alert_pairs_from_service(airflow_ui.alerts_url, airflow_ui.reviewer_token, dt.date.fromisoformat(day))
    assert len(alerts) == summary["alerts_sent"]
    result = evaluate(truth, alerts, dt.date.fromisoformat(day))
    assert result.sightings_found == result.sightings, f"{day}: missed sightings {result.missed_scan_ids}"
    assert result.precision >= 0.8, f"{day}: false alerts {result.false_alerts}"
    return summary


def test_trigger_a_day_with_config_and_it_succeeds(airflow_ui):
    api = airflow_ui.api()
    conf = {"date": TRIGGER_DAY, "landing_dir": str(airflow_ui.landing), "landing_wait_minutes": 0}
    run = api.trigger(conf)
    assert run["state"] == "queued" and run["run_type"] == "manual" and run["conf"] == conf
    done = api.wait_for_runs([run["dag_run_id"]], timeout=RUN_TIMEOUT)[run["dag_run_id"]]
    assert done["state"] == "success", airflow_ui.failure_details(api, run["dag_run_id"])
    assert_day_screened(airflow_ui, api, run["dag_run_id"], TRIGGER_DAY)


def test_backfill_three_days_runs_them_in_parallel_each_on_its_own_day(airflow_ui):
    api = airflow_ui.api()
    first, last = dt.date.fromisoformat(BACKFILL_DAYS[0]), dt.date.fromisoformat(BACKFILL_DAYS[-1])
    backfill = api.create_backfill(first, last, conf={"landing_dir": str(airflow_ui.landing), "landing_wait_minutes": 0},
                                   max_active_runs=3)
    assert backfill["max_active_runs"] == 3 and backfill["completed_at"] is None
    runs = api.backfill_runs(first, last)
    assert sorted(runs) == BACKFILL_DAYS  # one run per day, each with ds = its day
    done = api.wait_for_runs([r["dag_run_id"] for r in runs.values()], timeout=RUN_TIMEOUT)
    for day, run in runs.items():
        assert done[run["dag_run_id"]]["state"] == "success", airflow_ui.failure_details(api, run["dag_run_id"])

    # max_active_runs=3 with the LocalExecutor: the three days were in flight together.
    spans = [(dt.datetime.fromisoformat(d["start_date"]), dt.datetime.fromisoformat(d["end_date"]))
             for d in done.values()]
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans
    normalise = [ti for r in runs.values() for ti in api.task_instances(r["dag_run_id"]) if ti["task_id"] == "normalise"]
    starts = sorted(dt.datetime.fromisoformat(ti["start_date"]) for ti in normalise)
    ends = sorted(dt.datetime.fromisoformat(ti["end_date"]) for ti in normalise)
    assert starts[1] < ends[0], "no two days' Spark jobs ran at the same time"

    summaries = {day: assert_day_screened(airflow_ui, api, runs[day]["dag_run_id"], day) for day in BACKFILL_DAYS}
    assert len({s["watchlist_version"] for s in summaries.values()}) == 1  # one watchlist, loaded once
    for _ in range(30):  # the scheduler marks the backfill complete on its next pass
        if api.backfill(backfill["id"])["completed_at"]:
            break
        time.sleep(2)
    assert api.backfill(backfill["id"])["completed_at"] is not None


def test_a_failed_task_is_cleared_once_its_cause_is_fixed_and_reruns_cleanly(airflow_ui, tmp_path):
    api = airflow_ui.api()
    late = tmp_path / "landing-not-there-yet"
    conf = {"date": CLEAR_DAY, "landing_dir": str(late), "landing_wait_minutes": 0}
    run_id = api.trigger(conf)["dag_run_id"]
    failed = api.wait_for_runs([run_id], timeout=RUN_TIMEOUT)[run_id]
    assert failed["state"] == "failed"
    states = api.task_states(run_id)
    assert states.pop("prepare_day") == "failed"
    assert set(states.values()) == {"upstream_failed"}, states
    first_try = next(ti for ti in api.task_instances(run_id) if ti["task_id"] == "prepare_day")
    assert first_try["try_number"] == 1  # bad input fails fast: no retries
    assert "has no watchlist/watchlist.jsonl" in airflow_ui.task_log(run_id, "prepare_day", 1)

    # The cause: the landing files had not arrived. They arrive; the operator clears the task.
    shutil.copytree(airflow_ui.landing / "watchlist", late / "watchlist")
    shutil.copytree(airflow_ui.landing / "passengers" / CLEAR_DAY, late / "passengers" / CLEAR_DAY)
    cleared = api.clear_task(run_id, ["prepare_day"], downstream=True)
    assert {ti["task_id"] for ti in cleared} == TASKS

    done = api.wait_for_runs([run_id], timeout=RUN_TIMEOUT)[run_id]
    assert done["state"] == "success", airflow_ui.failure_details(api, run_id)
    second_try = next(ti for ti in api.task_instances(run_id) if ti["task_id"] == "prepare_day")
    assert second_try["try_number"] == 2
    assert_day_screened(airflow_ui, api, run_id, CLEAR_DAY)


def test_on_call_gets_the_failure_on_its_webhook(airflow_ui, tmp_path):
    api = airflow_ui.api()
    logical = dt.datetime.fromisoformat(f"{ONCALL_DAY}T00:00:00+00:00")  # ds = the day
    missing = tmp_path / "no-such-landing-dir"
    run_id = api.trigger({"landing_dir": str(missing), "landing_wait_minutes": 0}, logical_date=logical)["dag_run_id"]
    assert api.wait_for_runs([run_id], timeout=RUN_TIMEOUT)[run_id]["state"] == "failed"

    reports = airflow_ui.oncall.for_run(run_id)
    assert len(reports) == 1, airflow_ui.oncall.reports
    report = reports[0]
    assert {k: report[k] for k in ("dag_id", "task_id", "map_index", "run_id", "scan_day", "try_number")} == {
        "dag_id": "watchlist_screening", "task_id": "prepare_day", "map_index": -1, "run_id": run_id,
        "scan_day": ONCALL_DAY, "try_number": 1}
    assert report["error"].startswith("AirflowFailException: landing dir")
    assert str(missing) in report["error"] and "watchlist/watchlist.jsonl" in report["error"]
    assert report["log_url"].startswith(airflow_ui.url) and quote(run_id, safe="") in report["log_url"]
    assert "application/json" in airflow_ui.oncall.content_types[airflow_ui.oncall.reports.index(report)]
    # the same report is in the task's log, where the log URL leads
    log = airflow_ui.task_log(run_id, "prepare_day", 1)
    assert "ON-CALL: task failed" in log and run_id in log
    # nothing secret went out
    secrets = [airflow_ui.password, airflow_ui.reviewer_token, conninfo_to_dict(airflow_ui.warehouse_dsn)["password"]]
    assert not any(s in str(report) for s in secrets)


def test_a_late_day_pages_on_call_then_runs_when_its_files_land(airflow_ui, tmp_path):
    """The day's files are not there: the sensor defers to the triggerer; the deadline
    (logical date + 1 day + WATCHLIST_DEADLINE_HOURS) passes and on-call is told, while the
    old days the other tests ran, queued long after their deadlines, paged no one. Then the
    files land and the same run screens the day."""
    api = airflow_ui.api()
    landing = tmp_path / "landing"
    shutil.copytree(airflow_ui.landing / "watchlist", landing / "watchlist")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    logical = now - dt.timedelta(days=1) + dt.timedelta(seconds=20)  # due DEADLINE_SECONDS + 20 s from now
    run_id = api.trigger({"date": LATE_DAY, "landing_dir": str(landing), "landing_wait_minutes": 600},
                         logical_date=logical)["dag_run_id"]
    waited_until = time.monotonic() + DEADLINE_SECONDS + 20 + 240
    while time.monotonic() < waited_until and not airflow_ui.oncall.for_run(run_id):
        time.sleep(5)
    reports = airflow_ui.oncall.for_run(run_id)
    assert [r["alert"] for r in reports] == ["deadline_missed"], airflow_ui.oncall.reports
    assert reports[0]["scan_day"] == LATE_DAY and reports[0]["dag_id"] == "watchlist_screening"
    assert api.run(run_id)["state"] == "running"  # late, not failed
    assert api.task_states(run_id)["wait_for_landing_files"] == "deferred"  # no worker slot held
    assert not [r for r in airflow_ui.oncall.reports if r.get("alert") == "deadline_missed" and r["run_id"] != run_id]

    shutil.copytree(airflow_ui.landing / "passengers" / LATE_DAY, landing / "passengers" / LATE_DAY)
    done = api.wait_for_runs([run_id], timeout=RUN_TIMEOUT)[run_id]
    assert done["state"] == "success", airflow_ui.failure_details(api, run_id)
    assert_day_screened(airflow_ui, api, run_id, LATE_DAY)
