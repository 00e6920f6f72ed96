"""Runs of the pipeline for a passenger day, and the withdrawal of what a re-run no longer
supports.

A run sends its batches with its run_id (each alert it sends records that run), then says
of each batch that it is delivered (POST /v1/days/{date}/runs/{run_id}/complete). When every
batch of the run is delivered, the day's active alerts that another run sent are withdrawn,
once, recording the run and model that withdrew them. A day with no match completes with
0 batches and withdraws all the day's alerts. Only the day's newest run (by when it was
planned) withdraws, so an old run finishing late cannot withdraw what a newer one sent, and
an old run's late batches are refused (410).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from psycopg_pool import AsyncConnectionPool

from alerting_service.store import register_run

log = logging.getLogger(__name__)

_WITHDRAW = """
WITH gone AS (
    SELECT alert_id FROM alerts.alerts
    WHERE date = %(day)s AND withdrawn_at IS NULL AND run_id IS DISTINCT FROM %(run)s
    ORDER BY alert_id FOR UPDATE
), kept AS (
    INSERT INTO alerts.alert_revisions (alert_id, revision, superseded_by_run, change, record)
    SELECT a.alert_id, a.revision, %(run)s, 'withdrawn', to_jsonb(a) FROM alerts.alerts a JOIN gone USING (alert_id)
)
UPDATE alerts.alerts a
SET withdrawn_at = now(), withdrawn_by_run = %(run)s, withdrawn_by_model = %(model)s, revision = a.revision + 1
FROM gone WHERE a.alert_id = gone.alert_id
RETURNING a.alert_id
"""


async def complete_batch(pool: AsyncConnectionPool, day: dt.date, run_id: str, model_version: str,
                         batches: int, batch: int | None, planned_at: dt.datetime | None = None) -> dict[str, Any]:
    """Record `batch` of the run as delivered; withdraw once the run's `batches` are all in."""
    async with pool.connection() as conn, conn.transaction():
        # One day's completions one at a time: two replicas finishing its last two batches
        # at once must not both miss (or both do) the withdrawal.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('alerts-day:' || %s::text, 0))",
                           [day.isoformat()])
        await register_run(conn, day, run_id, planned_at)
        await conn.execute(
            "UPDATE alerts.runs SET model_version = %s, batches = %s WHERE date = %s AND run_id = %s",
            [model_version, batches, day, run_id])
        if batch is not None and batch < batches:
            await conn.execute(
                "INSERT INTO alerts.run_batches (date, run_id, batch) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                [day, run_id, batch])
        cur = await conn.execute(
            "SELECT r.started_at, r.completed_at, r.withdrawn, "
            "  (SELECT count(*) FROM alerts.run_batches b WHERE b.date = r.date AND b.run_id = r.run_id "
            "     AND b.batch < %s) AS done, "
            "  EXISTS (SELECT 1 FROM alerts.runs n WHERE n.date = r.date AND n.run_id <> r.run_id "
            "     AND n.started_at > r.started_at) AS superseded "
            "FROM alerts.runs r WHERE r.date = %s AND r.run_id = %s",
            [batches, day, run_id])
        run = await cur.fetchone()
        complete = run["done"] >= batches
        withdrawn = run["withdrawn"] or 0
        if complete and run["completed_at"] is None:
            if not run["superseded"]:
                cur = await conn.execute(_WITHDRAW, {"day": day, "run": run_id, "model": model_version})
                withdrawn = len(await cur.fetchall())
            await conn.execute(
                "UPDATE alerts.runs SET completed_at = now(), withdrawn = %s WHERE date = %s AND run_id = %s",
                [withdrawn, day, run_id])
            log.info("run complete", extra={"date": day.isoformat(), "run_id": run_id, "batches": batches,
                                            "withdrawn": withdrawn, "superseded": run["superseded"]})
    return {"date": day, "run_id": run_id, "model_version": model_version, "batches": batches,
            "batches_done": run["done"], "complete": complete, "superseded": run["superseded"],
            "withdrawn": withdrawn}
