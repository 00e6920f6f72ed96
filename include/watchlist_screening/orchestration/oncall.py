"""Tell on-call what failed and why: a log line always, a webhook post when configured."""
from __future__ import annotations

import json
import logging
import re

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.I)
# libpq key=value strings, also URL-encoded inside a URI (password%3D...)
_KEYWORD_PASSWORD = re.compile(r"(password\s*(?:=|%3D)\s*)('[^']*'|[^\s&'\"]+)", re.I)


def redact(text: str) -> str:
    """Errors from database drivers quote connection strings: never pass a password on."""
    return _KEYWORD_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


def failure_report(context) -> dict:
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    exception = context.get("exception")
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", None),
        "run_id": getattr(dag_run, "run_id", None),
        "scan_day": (context.get("params") or {}).get("date") or context.get("ds"),
        "try_number": getattr(ti, "try_number", None),
        "error": redact(f"{type(exception).__name__}: {exception}") if exception else None,
        "log_url": getattr(ti, "log_url", None),
    }


def post_to_webhook(report: dict, url: str | None = None, timeout: float = 10.0) -> None:
    if not url:
        from watchlist_screening.pipeline_settings import Settings

        url = Settings.from_env().oncall_webhook
    if not url:
        return
    import requests

    try:
        requests.post(url, json=report, timeout=timeout).raise_for_status()
    except requests.RequestException as exc:  # the failure itself must stay visible
        log.error("could not reach the on-call webhook: %s", exc)


def deadline_report(context: dict | None, **kwargs) -> dict:
    """What a missed-deadline callback tells on-call. Airflow hands deadline callbacks the
    run as a plain dict (the REST API's DAGRunResponse), not the DagRun object."""
    dag_run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    return {
        "alert": "deadline_missed",
        "dag_id": dag_run.get("dag_id", kwargs.get("dag_id")),
        "run_id": dag_run.get("dag_run_id"),
        "run_type": dag_run.get("run_type"),
        "state": dag_run.get("state"),
        "scan_day": ((dag_run.get("conf") or {}).get("date") or str(dag_run.get("logical_date") or "")[:10]) or None,
        "queued_at": dag_run.get("queued_at"),
        "deadline_time": str(deadline.get("deadline_time")) if deadline.get("deadline_time") else None,
    }


def _was_late_when_queued(report: dict) -> bool:
    """A backfill or a re-run of an old day is queued after its deadline: nothing is late
    that on-call could act on, so such a run is logged, not paged."""
    import datetime as dt

    try:
        queued = dt.datetime.fromisoformat(str(report["queued_at"]))
        deadline = dt.datetime.fromisoformat(str(report["deadline_time"]))
    except (KeyError, TypeError, ValueError):
        return False
    return queued >= deadline


def notify_deadline_missed(context=None, **kwargs) -> None:
    """Deadline callback: the day was not screened by its deadline."""
    report = deadline_report(context, **kwargs)
    if _was_late_when_queued(report):
        log.warning("deadline passed before run %s was queued (backfill or late re-run): not paging; %s",
                    report["run_id"], json.dumps(report, default=str))
        return
    log.error("ON-CALL: deadline missed: %s", json.dumps(report, default=str))
    post_to_webhook(report)


class OnCallNotifier(BaseNotifier):
    """Posts the failure report as JSON to $WATCHLIST_ONCALL_WEBHOOK (if set)."""

    def __init__(self, webhook_url: str | None = None, timeout: float = 10.0):
        super().__init__()
        self.webhook_url = webhook_url
        self.timeout = timeout

    def notify(self, context) -> None:
        report = failure_report(context)
        log.error("ON-CALL: task failed: %s", json.dumps(report, default=str))
        post_to_webhook(report, self.webhook_url, self.timeout)
