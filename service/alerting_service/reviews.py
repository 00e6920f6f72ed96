"""Reviewer decisions: recording one (audit row first, then the alert's current status),
reading an alert's audit trail, and reading decisions as training labels."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from alerting_service import store
from alerting_service.metrics import Metrics
from alerting_service.models import ReviewDecision

log = logging.getLogger(__name__)

# Decisions are written one transaction at a time, so review ids (the labels cursor)
# commit in increasing order: a reader at ?since=N can never miss a smaller id that
# committed late. Reviews come at human speed, so the serialisation costs nothing.
_REVIEW_LOCK = 0x5C12F0

_INSERT_REVIEW = (
    "INSERT INTO alerts.reviews (alert_id, decision, previous_status, reviewer, credential_id, note) "
    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING review_id, decided_at"
)
_LABEL_COLUMNS = (
    "review_id", "alert_id", "scan_id", "subject_id", "date", "airport", "model_version",
    "match_probability", "match_weight", "decision", "decided_at",
)
_LABELS = sql.SQL(
    "SELECT {} FROM alerts.reviews r JOIN alerts.alerts a USING (alert_id) "
    "WHERE r.review_id > %s ORDER BY r.review_id LIMIT %s"
).format(sql.SQL(", ").join(map(sql.Identifier, _LABEL_COLUMNS)))


async def decide(
    pool: AsyncConnectionPool, alert_id: uuid.UUID, *, decision: str, reviewer: str,
    credential_id: str, note: str | None,
) -> dict[str, Any] | None:
    """Record a decision; return the alert as it now stands, or None if there is no such alert."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_REVIEW_LOCK])
        cur = await conn.execute("SELECT status FROM alerts.alerts WHERE alert_id = %s FOR UPDATE", [alert_id])
        current = await cur.fetchone()
        if current is None:
            return None
        cur = await conn.execute(
            _INSERT_REVIEW, [alert_id, decision, current["status"], reviewer, credential_id, note]
        )
        review = await cur.fetchone()
        await conn.execute(
            "UPDATE alerts.alerts SET status = %s, reviewed_by = %s, reviewed_at = %s WHERE alert_id = %s",
            [decision, reviewer, review["decided_at"], alert_id],
        )
        return await store.get_alert(conn, alert_id)


async def record(pool: AsyncConnectionPool, metrics: Metrics, alert_id: uuid.UUID, decision: ReviewDecision,
                 credential_id: str) -> dict[str, Any] | None:
    """The one way a decision is stored, for the API, gRPC and the review page alike."""
    row = await decide(pool, alert_id, decision=decision.decision, reviewer=decision.reviewer,
                       credential_id=credential_id, note=decision.note)
    if row is not None:
        metrics.reviews.labels(decision.decision).inc()
        # Ids only: the reviewer's name and note stay in the database.
        log.info("review recorded",
                 extra={"alert_id": str(alert_id), "decision": decision.decision, "credential_id": credential_id})
    return row


async def audit_trail(conn: AsyncConnection, alert_id: uuid.UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT review_id, alert_id, decision, previous_status, reviewer, credential_id, note, decided_at "
        "FROM alerts.reviews WHERE alert_id = %s ORDER BY review_id",
        [alert_id],
    )
    return await cur.fetchall()


async def labels_since(conn: AsyncConnection, since: int, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(_LABELS, [since, limit])
    return await cur.fetchall()
