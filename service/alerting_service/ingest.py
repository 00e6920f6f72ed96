"""Storing a POSTed batch: alert ids, in-batch duplicates, and Idempotency-Key replay, all in
one transaction so that replicas racing on the same pairs or the same key agree."""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerting_service import store
from alerting_service.idempotency import IdempotencyKeyReused
from alerting_service.models import Alert, IngestResult, ItemResult

log = logging.getLogger(__name__)

# Fixed forever: alert ids derive from it, and a repeat must get the original id back.
_ALERT_NAMESPACE = uuid.UUID("6f0c2a4e-5b7d-5e1f-9a38-2d4c6b8e0f13")
ACCEPTED = 202


def alert_id(scan_id: str, subject_id: str) -> uuid.UUID:
    # JSON keeps the pair unambiguous ("a|b","c" and "a","b|c" differ).
    return uuid.uuid5(_ALERT_NAMESPACE, json.dumps([scan_id, subject_id]))


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


async def ingest(
    pool: AsyncConnectionPool, alerts: list[Alert], idempotency: tuple[str, str] | None
) -> Outcome:
    """Store `alerts`; `idempotency` is (key, request fingerprint) when the client sent a key."""
    async with pool.connection() as conn, conn.transaction():
        if idempotency:
            key, request_hash = idempotency
            held = await store.claim_idempotency_key(conn, key, request_hash)
            if held is not None:
                if held["request_hash"] != request_hash:
                    raise IdempotencyKeyReused(key)
                log.info("idempotent replay", extra={"idempotency_key": key})
                return Outcome(held["response_status"], held["response_body"], replayed=True)
        body = await _store_alerts(conn, alerts)
        if idempotency:
            await store.save_idempotent_response(conn, idempotency[0], ACCEPTED, body)
    log.info(
        "alerts received",
        extra={
            "alerts_received": body["received"],
            "alerts_created": body["created"],
            "alerts_duplicate": body["duplicates"],
            "idempotency_key": idempotency[0] if idempotency else None,
            "created_alert_ids": [r["alert_id"] for r in body["results"] if r["created"]],
        },
    )
    return Outcome(ACCEPTED, body)


async def _store_alerts(conn: AsyncConnection, alerts: list[Alert]) -> dict[str, Any]:
    ids = [alert_id(a.scan_id, a.subject_id) for a in alerts]
    # A pair repeated inside one batch is inserted once; later copies report a duplicate.
    first: dict[uuid.UUID, Alert] = {}
    for i, a in zip(ids, alerts):
        first.setdefault(i, a)
    inserted = await store.insert_alerts(conn, list(first.items()))
    results, reported = [], set()
    for i, a in zip(ids, alerts):
        created = i in inserted and i not in reported
        reported.add(i)
        results.append(
            ItemResult(
                alert_id=i, scan_id=a.scan_id, subject_id=a.subject_id,
                created=created, status="created" if created else "duplicate",
            )
        )
    n_created = sum(r.created for r in results)
    result = IngestResult(received=len(alerts), created=n_created, duplicates=len(alerts) - n_created, results=results)
    return result.model_dump(mode="json")
