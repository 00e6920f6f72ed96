"""Plan the day's alert fan-out: how many mapped send tasks, which slice of the matches
each sends, and the run they all belong to at the alerting service.

Kept apart from delivery.py because planning runs once per day and decides the run's
identity, while delivery runs once per batch and must rebuild the same payloads on retry.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import uuid

MAX_ALERT_BATCHES = 1000  # far below Airflow's max_map_length (1024)
# The model a run names at the alerting service (withdrawn_by_model) when the day had no
# model: a fresh warehouse whose day has nothing to train on. The run summary says null.
NO_MODEL = "none (nothing to train on)"


def new_run_id() -> str:
    """A plan's id at the alerting service: the Airflow run's id (for people reading it)
    and a random part, so a re-planned run never shares its batches' records with an earlier
    plan. The mapped batches read it from the plan's XCom, so their retries keep it."""
    try:
        from airflow.sdk import get_current_context

        run = str(get_current_context()["run_id"])
    except Exception:  # called outside a task (tests, tools)
        run = "run"
    return f"{re.sub(r'[^A-Za-z0-9._:+~-]', '_', run)[:100]}~{uuid.uuid4().hex[:12]}"


def plan_batches(scan_day: str, matches: int, model_version: str | None, batch_size: int,
                 run_report_url: str) -> tuple[dict, list[dict]]:
    """(the run: run_id, model_version, planned_at; one dict per batch). No batch when the
    day has no match: the caller then completes the run as sending nothing
    (delivery.complete_empty_day), which withdraws the day's earlier alerts."""
    size = max(batch_size, math.ceil(matches / MAX_ALERT_BATCHES))
    # The service orders a day's runs by when they were planned: only the newest withdraws.
    run = {"run_id": new_run_id(), "model_version": model_version or NO_MODEL,
           "planned_at": dt.datetime.now(dt.timezone.utc).isoformat()}
    offsets = range(0, matches, size)
    return run, [{"scan_day": scan_day, "index": i, "offset": off, "limit": size, "run_report_url": run_report_url,
                  "batches": len(offsets), **run} for i, off in enumerate(offsets)]
