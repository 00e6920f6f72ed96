"""Record each task's wall time for the day's run summary (an Airflow success callback),
and read it back for the summary."""
from __future__ import annotations

import datetime as dt
import logging

import psycopg

log = logging.getLogger(__name__)


def record_step(dsn: str, day: dt.date, task_id: str, map_index: int, run_id: str, try_number: int,
                started_at: dt.datetime | None) -> None:
    finished = dt.datetime.now(dt.timezone.utc)
    seconds = (finished - started_at).total_seconds() if started_at else None
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO warehouse.day_run_steps
                   (scan_day, task_id, map_index, run_id, try_number, started_at, finished_at, seconds)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (scan_day, task_id, map_index) DO UPDATE SET
                   run_id = EXCLUDED.run_id, try_number = EXCLUDED.try_number,
                   started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
                   seconds = EXCLUDED.seconds""",
            (day, task_id, map_index, run_id, try_number, started_at, finished, seconds),
        )


def read_steps(dsn: str, day: dt.date, run_id: str) -> list[dict]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """SELECT task_id, count(*) AS tasks, sum(seconds) AS seconds, max(try_number) AS tries
               FROM warehouse.day_run_steps WHERE scan_day = %s AND run_id = %s
               GROUP BY task_id ORDER BY min(started_at)""", (day, run_id)).fetchall()
    return [{"task_id": t, "tasks": n, "seconds": round(s or 0.0, 2), "max_try": tries} for t, n, s, tries in rows]


def on_task_success(context) -> None:
    """Success callback: never fails the task it reports on."""
    from watchlist_screening.orchestration.connections import warehouse_dsn
    from watchlist_screening.pipeline_settings import Settings

    ti = context["ti"]
    try:
        params = context.get("params") or {}
        day = dt.date.fromisoformat(params.get("date") or context["ds"])
        record_step(warehouse_dsn(Settings.from_env()), day, ti.task_id, ti.map_index if ti.map_index is not None else -1,
                    context["run_id"], ti.try_number, getattr(ti, "start_date", None))
    except Exception as exc:  # timing is nice to have; the task's result stands
        log.warning("could not record the wall time of %s: %s", ti.task_id, exc)
