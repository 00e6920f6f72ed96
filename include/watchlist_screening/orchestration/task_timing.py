"""Record each task's wall time, CPU-seconds and peak memory for the day's run summary (an
Airflow success callback; task_resources.py measures the latter two), and read them back."""
from __future__ import annotations

import datetime as dt
import logging

import psycopg

log = logging.getLogger(__name__)


def record_step(dsn: str, day: dt.date, task_id: str, map_index: int, run_id: str, try_number: int,
                started_at: dt.datetime | None, cpu_seconds: float | None = None,
                peak_memory_mb: float | None = None) -> None:
    finished = dt.datetime.now(dt.timezone.utc)
    seconds = (finished - started_at).total_seconds() if started_at else None
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO warehouse.day_run_steps
                   (scan_day, task_id, map_index, run_id, try_number, started_at, finished_at, seconds,
                    cpu_seconds, peak_memory_mb)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (scan_day, task_id, map_index) DO UPDATE SET
                   run_id = EXCLUDED.run_id, try_number = EXCLUDED.try_number,
                   started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
                   seconds = EXCLUDED.seconds, cpu_seconds = EXCLUDED.cpu_seconds,
                   peak_memory_mb = EXCLUDED.peak_memory_mb""",
            (day, task_id, map_index, run_id, try_number, started_at, finished, seconds, cpu_seconds, peak_memory_mb),
        )


def read_steps(dsn: str, day: dt.date, run_id: str) -> list[dict]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """SELECT task_id, count(*) AS tasks, sum(seconds) AS seconds, max(try_number) AS tries,
                      sum(cpu_seconds) AS cpu_seconds, max(peak_memory_mb) AS peak_memory_mb
               FROM warehouse.day_run_steps WHERE scan_day = %s AND run_id = %s
               GROUP BY task_id ORDER BY min(started_at)""", (day, run_id)).fetchall()
    return [{"task_id": t, "tasks": n, "seconds": round(s or 0.0, 2), "max_try": tries,
             "cpu_seconds": None if cpu is None else round(cpu, 2), "peak_memory_mb": peak}
            for t, n, s, tries, cpu, peak in rows]


def latest_run_id(dsn: str, day: dt.date) -> str | None:
    """The run that last finished a task of the day (what a summary printed now describes)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT run_id FROM warehouse.day_run_steps WHERE scan_day = %s "
                           "ORDER BY finished_at DESC LIMIT 1", (day,)).fetchone()
    return row[0] if row else None


def on_task_success(context) -> None:
    """Success callback: never fails the task it reports on."""
    from watchlist_screening.orchestration.connections import warehouse_dsn
    from watchlist_screening.orchestration.task_resources import finish
    from watchlist_screening.pipeline_settings import Settings

    ti = context["ti"]
    try:
        cpu_seconds, peak_memory_mb = finish(context)
        params = context.get("params") or {}
        day = dt.date.fromisoformat(params.get("date") or context["ds"])
        record_step(warehouse_dsn(Settings.from_env()), day, ti.task_id, ti.map_index if ti.map_index is not None else -1,
                    context["run_id"], ti.try_number, getattr(ti, "start_date", None), cpu_seconds, peak_memory_mb)
    except Exception as exc:  # timing is nice to have; the task's result stands
        log.warning("could not record the wall time of %s: %s", ti.task_id, exc)
