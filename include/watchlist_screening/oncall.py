"""Tell on-call what failed and why: a log line always, a webhook post when configured."""
from __future__ import annotations

import json
import logging
import os
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
    url = url or os.environ.get("WATCHLIST_ONCALL_WEBHOOK")
    if not url:
        return
    import requests

    try:
        requests.post(url, json=report, timeout=timeout).raise_for_status()
    except requests.RequestException as exc:  # the failure itself must stay visible
        log.error("could not reach the on-call webhook: %s", exc)


def notify_deadline_missed(context=None, **kwargs) -> None:
    """Deadline callback: the day's run was not done in time."""
    dag_run = (context or {}).get("dag_run")
    report = {"alert": "deadline_missed", "dag_id": getattr(dag_run, "dag_id", kwargs.get("dag_id")),
              "run_id": getattr(dag_run, "run_id", None), **{k: str(v) for k, v in kwargs.items()}}
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
