"""Airflow with the UI, as `make airflow` starts it (scripts/airflow.sh: api-server, scheduler
with LocalExecutor, dag-processor, triggerer), in a throw-away AIRFLOW_HOME, metadata database
and warehouse database, against the test session's alerting service (tests/conftest.py). One instance serves every
test in this folder; a local HTTP receiver stands in for the on-call webhook."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.airflow.airflow_api import AirflowAPI

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SH = REPO_ROOT / "scripts" / "airflow.sh"
SCREENSHOT_DIR = REPO_ROOT / ".local" / "screenshots"

# Days no other test or demo uses, so the shared alerting service holds only our alerts for
# them. Runs whose logical date (ds) is the day must be in the past: Airflow creates no
# backfill runs for days not yet over, and never starts tasks of a future logical date.
TRIGGER_DAY = "2032-01-01"        # Trigger (with config: param `date`) for a date
CLEAR_DAY = "2032-01-02"          # fails (no watchlist yet), the files arrive, the task is cleared
ONCALL_DAY = "2026-02-20"         # fails for good (logical date = the day): on-call is told
BACKFILL_DAYS = ["2026-02-10", "2026-02-11", "2026-02-12"]
LATE_DAY = "2032-01-03"           # its files land while the sensor waits, after the deadline passed
LANDED_DAYS = [TRIGGER_DAY, CLEAR_DAY, LATE_DAY, *BACKFILL_DAYS]
SIGHTINGS, BAD_LINES = 10, 4
DEADLINE_SECONDS = 90
USER = "admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OnCallReceiver:
    """The on-call webhook: records every JSON body posted to it."""

    reports: list[dict] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.content_types.append(self.headers.get("Content-Type", ""))
                receiver.reports.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/oncall"

    def for_run(self, run_id: str) -> list[dict]:
        return [r for r in self.reports if r.get("run_id") == run_id]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class AirflowInstance:
    url: str
    home: Path
    env: dict[str, str]
    password: str
    landing: Path
    oncall: OnCallReceiver
    warehouse_dsn: str
    alerts_url: str
    reviewer_token: str

    def api(self) -> AirflowAPI:
        return AirflowAPI(self.url, USER, self.password)

    def task_log(self, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log file, as the api-server reads it (local log folder)."""
        paths = sorted(self.home.glob(f"logs/dag_id=*/run_id={run_id}/task_id={task_id}/**/attempt={try_number}.log"))
        return "\n".join(p.read_text(errors="replace") for p in paths)

    def failure_details(self, api: AirflowAPI, run_id: str) -> str:
        """Failed tasks' states and log tails, for assertion messages."""
        lines = []
        for ti in api.task_instances(run_id):
            lines.append(f"{ti['task_id']}[{ti['map_index']}] {ti['state']} try {ti['try_number']}")
            if ti["state"] == "failed":
                lines.append(self.task_log(run_id, ti["task_id"], ti["try_number"])[-3000:])
        return "\n".join(lines)


def postgres_url(conninfo: str) -> str:
    """libpq key=value conninfo (what the warehouse_dsn fixture gives) as the URL Airflow
    connections from the environment need."""
    from urllib.parse import quote

    p = conninfo_to_dict(conninfo)
    return (f"postgresql://{quote(p['user'], safe='')}:{quote(p['password'], safe='')}@{p.get('host', '127.0.0.1')}:"
            f"{p.get('port', 5432)}/{quote(p['dbname'], safe='')}")


def forget_alerts(alerts_dsn: str, days: list[str]) -> None:
    """The service is the session's (tests/conftest.py), shared by every test in it: start
    from no alerts for our days, keys included, or replays would answer for them."""
    with psycopg.connect(alerts_dsn) as conn:
        for day in days:
            conn.execute("DELETE FROM alerts.idempotency_keys WHERE idempotency_key LIKE %s", (f"alerts-{day}-%",))
            conn.execute("DELETE FROM alerts.alerts WHERE date = %s", (day,))


@pytest.fixture(scope="package")
def landing(tmp_path_factory) -> Path:
    """Small generated days with known truth, one shared watchlist."""
    from watchlist_screening.generator.cli import main as generate

    root = tmp_path_factory.mktemp("airflow-landing")
    days = [arg for day in LANDED_DAYS for arg in ("--date", day)]
    assert generate(["--landing-dir", str(root), *days, "--watchlist-size", "2000", "--airports", "LHR,CDG",
                     "--passengers-per-airport", "2000", "--sightings", str(SIGHTINGS),
                     "--bad-lines", str(BAD_LINES), "--seed", "23"]) == 0
    return root


@pytest.fixture(scope="package")
def metadata_db(stack_db) -> str:
    """A throw-away Airflow metadata database, owned by the project's `airflow` role."""
    password = (Path(stack_db["WATCHLIST_LOCAL_DIR"]) / "secrets" / "airflow_db_password").read_text().strip()
    base = make_conninfo(host="127.0.0.1", port=conninfo_to_dict(stack_db["WAREHOUSE_DSN"]).get("port", "55432"),
                         user="airflow", password=password, dbname="airflow")
    name = f"airflow_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(base)
    yield f"postgresql+psycopg2://airflow:{password}@{params['host']}:{params['port']}/{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="package")
def airflow_ui(stack_up, warehouse_dsn, metadata_db, landing, tmp_path_factory) -> AirflowInstance:
    forget_alerts(stack_up["ALERTS_DB_DSN"], [*LANDED_DAYS, ONCALL_DAY])
    home = tmp_path_factory.mktemp("airflow-home")
    port = free_port()
    oncall = OnCallReceiver()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db,
        "AIRFLOW_API_PORT": str(port),
        "AIRFLOW_PARALLELISM": "8",
        # Only the runs a test asks for: no run for "yesterday" when the DAG is unpaused.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW_CONN_WAREHOUSE_POSTGRES": postgres_url(warehouse_dsn),
        "WAREHOUSE_DSN": postgres_url(warehouse_dsn),
        "WATCHLIST_MODEL_DIR": str(home / "models"),
        "WATCHLIST_REPORT_DIR": str(home / "reports"),
        "WATCHLIST_LANDING_DIR": str(home / "no-landing-dir"),
        "WATCHLIST_ONCALL_WEBHOOK": oncall.start(),
        # A day is due DEADLINE_SECONDS after it ends: short, so that a test can watch a
        # deadline pass; every other test's run is queued after its day's deadline (old
        # days) or long before it (logical date now).
        "WATCHLIST_DEADLINE_HOURS": str(DEADLINE_SECONDS / 3600),
        "WATCHLIST_LANDING_POLL_SECONDS": "5",
    }
    env.pop("AIRFLOW_CONFIG", None)
    started = subprocess.run([str(AIRFLOW_SH), "start"], env=env, capture_output=True, text=True, timeout=600)
    try:
        assert started.returncode == 0, started.stderr[-4000:]
        assert f"Airflow UI:  http://127.0.0.1:{port}" in started.stderr
        assert f"login:       {USER}" in started.stderr
        password = json.loads((home / "simple_auth_manager_passwords.json").read_text())[USER]
        instance = AirflowInstance(url=f"http://127.0.0.1:{port}", home=home, env=env, password=password,
                                   landing=landing, oncall=oncall, warehouse_dsn=warehouse_dsn,
                                   alerts_url=stack_up["ALERTS_URL"], reviewer_token=stack_up["ALERTS_REVIEWER_TOKEN"])
        api = instance.api()
        api.wait_for_dag()
        api.unpause()
        yield instance
    finally:
        stopped = subprocess.run([str(AIRFLOW_SH), "stop"], env=env, capture_output=True, text=True, timeout=300)
        oncall.stop()
        # keep the services' logs of a failed session next to the screenshots
        if (home / "logs" / "services").is_dir():
            shutil.copytree(home / "logs" / "services", SCREENSHOT_DIR.parent / "logs" / "airflow-test-services",
                            dirs_exist_ok=True)
        assert stopped.returncode == 0, stopped.stderr[-2000:]
