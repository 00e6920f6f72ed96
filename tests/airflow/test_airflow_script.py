"""scripts/airflow.sh on a running instance: start again changes nothing, status reports every
component healthy, and the instance runs what `make airflow` promises (LocalExecutor on
PostgreSQL, the project's DAG, the login from the password file)."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import requests

from .conftest import AIRFLOW_SH

pytestmark = [pytest.mark.integration]

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def run_script(airflow_ui, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(AIRFLOW_SH), *args], env=airflow_ui.env, capture_output=True, text=True, timeout=300)


def test_start_is_idempotent_and_status_reports_every_component(airflow_ui):
    pids = {c: (airflow_ui.home / "run" / f"{c}.pid").read_text().strip() for c in COMPONENTS}
    started = time.monotonic()
    again = run_script(airflow_ui, "start")
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 60
    for component in COMPONENTS:
        assert f"airflow {component} already running (pid {pids[component]})" in again.stderr
    assert "migrating" not in again.stderr

    status = run_script(airflow_ui, "status")
    assert status.returncode == 0, status.stdout
    assert "dag_processor:healthy metadatabase:healthy scheduler:healthy triggerer:healthy" in status.stdout


def test_the_instance_is_configured_as_make_airflow_promises(airflow_ui):
    api = airflow_ui.api()
    dag = api.get("dags/watchlist_screening")
    assert dag["fileloc"].endswith("dags/watchlist_screening_daily.py") and not dag["is_stale"]
    assert api.get("importErrors")["total_entries"] == 0
    pool = api.get("pools/alerting_service")
    assert pool["slots"] == 4

    # the CLI against the same instance, through the env file the script writes
    env_file = airflow_ui.home / "airflow.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert oct((airflow_ui.home / "simple_auth_manager_passwords.json").stat().st_mode & 0o777) == "0o600"
    config = subprocess.run(
        ["bash", "-c", f"source {env_file} && airflow config get-value core executor && "
                       "airflow config get-value database sql_alchemy_conn"],
        env={k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}, capture_output=True, text=True,
        timeout=120)
    executor, metadata = config.stdout.split()[-2:]
    assert executor == "LocalExecutor"
    assert metadata == airflow_ui.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]

    # the generated login works, a wrong one does not; the API wants a token
    assert json.loads((airflow_ui.home / "simple_auth_manager_passwords.json").read_text()) == {"admin": airflow_ui.password}
    refused = requests.post(f"{airflow_ui.url}/auth/token", json={"username": "admin", "password": "wrong"}, timeout=30)
    assert refused.status_code == 401
    assert requests.get(f"{airflow_ui.url}/api/v2/dags", timeout=30).status_code == 401
