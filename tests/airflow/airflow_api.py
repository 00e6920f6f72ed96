"""A small client for Airflow 3's REST API v2 (the api-server started by scripts/airflow.sh):
what an operator does in the UI, as calls — trigger a day, backfill days, clear a failed task,
wait for the outcome. Authenticates like the UI: SimpleAuthManager's POST /auth/token.
Only the tests drive Airflow this way, so it lives beside them, not in the package."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

import requests

DAG_ID = "watchlist_screening"
FINISHED = {"success", "failed"}


class AirflowAPIError(RuntimeError):
    pass


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        response = self.session.post(f"{self.base_url}/auth/token", json={"username": username, "password": password},
                                     timeout=timeout)
        if response.status_code != 201:
            raise AirflowAPIError(f"login as {username!r} refused: {response.status_code} {response.text[:200]}")
        self.token = response.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def request(self, method: str, path: str, **kwargs) -> dict:
        response = self.session.request(method, f"{self.base_url}/api/v2/{path.lstrip('/')}",
                                        timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise AirflowAPIError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def get(self, path: str, **params) -> dict:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: dict) -> dict:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: dict) -> dict:
        return self.request("PATCH", path, json=body)

    # --- DAGs and runs ------------------------------------------------------------------
    def wait_for_dag(self, dag_id: str = DAG_ID, timeout: float = 120.0) -> dict:
        """Until the dag-processor has parsed the DAG (raises with the import errors if not)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get(f"dags/{dag_id}")
            except AirflowAPIError:
                if time.monotonic() > deadline:
                    errors = self.get("importErrors").get("import_errors", [])
                    raise AirflowAPIError(f"DAG {dag_id} not parsed after {timeout:.0f}s; import errors: {errors}")
                time.sleep(1)

    def unpause(self, dag_id: str = DAG_ID) -> dict:
        return self.patch(f"dags/{dag_id}", {"is_paused": False})

    def trigger(self, conf: dict, dag_id: str = DAG_ID, run_id: str | None = None,
                logical_date: dt.datetime | None = None) -> dict:
        """Like the UI's Trigger (with config): logical date now unless given. Screen another
        day with conf {"date": ...}: a future logical date never starts (Airflow waits for it)."""
        logical_date = logical_date or dt.datetime.now(dt.timezone.utc)
        body = {"logical_date": logical_date.isoformat(), "conf": conf}
        if run_id:
            body["dag_run_id"] = run_id
        return self.post(f"dags/{dag_id}/dagRuns", body)

    def run(self, run_id: str, dag_id: str = DAG_ID) -> dict:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}")

    def set_run_state(self, run_id: str, state: str, dag_id: str = DAG_ID) -> dict:
        """Mark a run success/failed/queued, as the UI's run menu does."""
        return self.patch(f"dags/{dag_id}/dagRuns/{run_id}", {"state": state})

    def runs(self, dag_id: str = DAG_ID, **params) -> list[dict]:
        return self.get(f"dags/{dag_id}/dagRuns", limit=100, **params)["dag_runs"]

    def wait_for_runs(self, run_ids: Iterable[str], dag_id: str = DAG_ID, timeout: float = 900.0,
                      poll: float = 2.0) -> dict[str, dict]:
        """Until every run has finished; returns them by run id."""
        pending, done = set(run_ids), {}
        deadline = time.monotonic() + timeout
        while pending:
            for run_id in sorted(pending):
                run = self.run(run_id, dag_id)
                if run["state"] in FINISHED:
                    done[run_id] = run
                    pending.discard(run_id)
            if pending:
                if time.monotonic() > deadline:
                    states = {r: self.run(r, dag_id)["state"] for r in pending}
                    raise TimeoutError(f"runs not finished after {timeout:.0f}s: {states}")
                time.sleep(poll)
        return done

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict]:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str | None]:
        """task_id (with [map_index] for mapped tasks) → state."""
        return {ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
                for ti in self.task_instances(run_id, dag_id)}

    def xcom(self, run_id: str, task_id: str, dag_id: str = DAG_ID, key: str = "return_value"):
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                        deserialize="true")["value"]

    def clear_task(self, run_id: str, task_ids: list[str], dag_id: str = DAG_ID, downstream: bool = True,
                   only_failed: bool = False) -> list[dict]:
        """The UI's Clear on a task instance: the task (and what follows it) runs again."""
        body = {"dry_run": False, "dag_run_id": run_id, "task_ids": task_ids, "include_downstream": downstream,
                "only_failed": only_failed, "reset_dag_runs": True}
        return self.post(f"dags/{dag_id}/clearTaskInstances", body)["task_instances"]

    # --- backfills ----------------------------------------------------------------------
    def create_backfill(self, from_date: dt.date, to_date: dt.date, conf: dict | None = None,
                        max_active_runs: int = 3, dag_id: str = DAG_ID, reprocess: str = "none") -> dict:
        """The UI's Backfill: one run per scheduled day in [from_date, to_date], each screening its own ds."""
        def midnight(day: dt.date) -> str:
            return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc).isoformat()

        return self.post("backfills", {"dag_id": dag_id, "from_date": midnight(from_date), "to_date": midnight(to_date),
                                       "max_active_runs": max_active_runs, "dag_run_conf": conf or {},
                                       "reprocess_behavior": reprocess})

    def backfill(self, backfill_id: int) -> dict:
        return self.get(f"backfills/{backfill_id}")

    def backfill_runs(self, from_date: dt.date, to_date: dt.date, dag_id: str = DAG_ID) -> dict[str, dict]:
        """The backfill's runs by ds (the API's run records do not name their backfill)."""
        runs = {}
        for run in self.runs(dag_id, run_type="backfill"):
            day = dt.datetime.fromisoformat(run["logical_date"]).date()
            if from_date <= day <= to_date:
                runs[day.isoformat()] = run
        return runs
