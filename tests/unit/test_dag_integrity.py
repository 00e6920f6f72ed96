"""The DAG imports cleanly, is wired as designed, and does no work at parse time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = REPO_ROOT / "dags" / "watchlist_screening_daily.py"


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["watchlist_screening"]


def test_tasks_and_dependencies(dag):
    expected = {
        "prepare_day": {"wait_for_landing_files", "ensure_model", "score_day", "plan_alert_batches", "write_reports",
                        "summarise_day"},
        "wait_for_landing_files": {"normalise"},
        "normalise": {"ensure_model"},
        "ensure_model": {"score_day"},
        "score_day": {"plan_alert_batches", "write_reports"},
        "write_reports": {"summarise_day"},
        "plan_alert_batches": {"send_alerts"},
        "send_alerts": {"summarise_day"},
        "summarise_day": set(),
    }
    assert {t.task_id: set(t.downstream_task_ids) for t in dag.tasks} == expected


def test_schedule_retries_and_failure_callback(dag):
    assert dag.timetable.expression == "0 0 * * *"
    assert not dag.catchup
    for t in dag.tasks:
        assert t.on_failure_callback and t.on_success_callback, t.task_id
        if t.task_id != "wait_for_landing_files":
            assert t.retries >= 1, t.task_id
    assert dag.get_task("summarise_day").trigger_rule == "none_failed"
    send = dag.get_task("send_alerts")
    assert send.max_active_tis_per_dagrun == 4 and send.pool == "alerting_service"
    sensor = dag.get_task("wait_for_landing_files")
    assert sensor.deferrable and sensor.mode == "reschedule"  # reschedule only if deferral is turned off



def _parsed_deadline(hours: str | None):
    """The DAG's deadline as parsed with WATCHLIST_DEADLINE_HOURS set to `hours` (None = unset)."""
    probe = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"dag = DagBag(dag_folder={str(REPO_ROOT / 'dags')!r}).dags['watchlist_screening']\n"
        "alerts = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline] if dag.deadline else []\n"
        "print(json.dumps([[type(a.reference).__name__, a.interval.total_seconds()] for a in alerts]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "WATCHLIST_DEADLINE_HOURS"}
    if hours is not None:
        env["WATCHLIST_DEADLINE_HOURS"] = hours
    out = subprocess.run([sys.executable, "-c", probe], check=True, env=env, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_deadline_alert_is_on_by_default_and_hangs_on_the_logical_date():
    # logical date, not queue time: Airflow 3.3's Clear fails on queue-time deadlines (#70368)
    assert _parsed_deadline(None) == [["DagRunLogicalDateDeadline", (24 + 9) * 3600]]
    assert _parsed_deadline("2") == [["DagRunLogicalDateDeadline", (24 + 2) * 3600]]
    assert _parsed_deadline("0") == []


def test_only_transient_errors_are_retried(dag):
    import psycopg
    import requests

    from watchlist_screening.alerts.client import NonRetryableAlertError, RetryableAlertError

    policy = dag.get_task("score_day").retry_policy
    decide = lambda exc: policy.evaluate(exc, 1, 4, {}).action.value  # noqa: E731
    assert decide(psycopg.OperationalError("connection refused")) == "retry"
    assert decide(requests.exceptions.ConnectionError("reset")) == "retry"
    assert decide(RetryableAlertError("503 after 6 attempts")) == "retry"
    assert decide(NonRetryableAlertError("422 bad field", 422)) == "fail"
    assert decide(ValueError("bad data")) == "fail"


def test_spark_task_uses_spark_default_and_keeps_secrets_off_the_command_line(dag):
    normalise = dag.get_task("normalise")
    assert normalise._conn_id == "spark_default"
    assert "WAREHOUSE_DSN" in normalise.env_vars
    assert not any("postgres" in str(a) for a in normalise.application_args)
    assert not normalise.jars   # the job writes with psycopg: no JDBC driver to ship


def test_parse_time_does_no_heavy_imports():
    probe = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(DAG_FILE)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(json.dumps(sorted(m for m in ('splink', 'duckdb', 'faiss', 'pyspark', 'psycopg', 'numpy')"
        " if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_fan_out_tasks_import_no_linkage_engine():
    """One send_alerts task runs per batch of alerts: each would pay Splink's import for
    the one-line URL helper it needs."""
    probe = ("import json, sys, watchlist_screening.alerts.delivery, watchlist_screening.alerts.planning\n"
             "print(json.dumps(sorted(m for m in ('splink', 'duckdb', 'faiss', 'pyspark') if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_nothing_in_the_dags_folder_shadows_the_package():
    # Airflow puts the dags folder first on sys.path: a dags/watchlist_screening.py would
    # hide the package from every task.
    probe = (f"import sys; sys.path.insert(0, {str(REPO_ROOT / 'dags')!r}); "
             "import watchlist_screening.orchestration.tasks, watchlist_screening.orchestration.oncall")
    subprocess.run([sys.executable, "-c", probe], check=True)
