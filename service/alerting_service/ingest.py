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
from alerting_service.metrics import Metrics
from alerting_service.models import Alert, IngestResult, ItemResult
from alerting_service.payloads import ParsedAlerts

log = logging.getLogger(__name__)

# Fixed forever: alert ids derive from it, and a repeat must get the original id back.
_ALERT_NAMESPACE = uuid.UUID("6f0c2a4e-5b7d-5e1f-9a38-2d4c6b8e0f13")
ACCEPTED = 202


def alert_id(scan_id: str, subject_id: str) -> uuid.UUID:
    # JSON keeps the pair unambiguous ("a|b","c" and "a","b|c" differ).
    return uuid.uuid5(_ALERT_NAMESPACE, json.dumps([scan_id, subject_id]))


class RunSuperseded(Exception):
    def __init__(self, day: Any, run_id: str):
        super().__init__(f"run {run_id} of {day} was superseded by a later run of the day; its alerts are not stored")


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


async def ingest(pool: AsyncConnectionPool, parsed: ParsedAlerts, idempotency_key: str | None) -> Outcome:
    """Store the valid alerts of `parsed` and answer for every item, the refused ones too."""
    idempotency = (idempotency_key, parsed.fingerprint) if idempotency_key else None
    async with pool.connection() as conn, conn.transaction():
        if idempotency:
            key, request_hash = idempotency
            held = await store.claim_idempotency_key(conn, key, request_hash)
            if held is not None:
                if held["request_hash"] != request_hash:
                    raise IdempotencyKeyReused(key)
                log.info("idempotent replay", extra={"idempotency_key": key})
                return Outcome(held["response_status"], held["response_body"], replayed=True)
        body = await _store_alerts(conn, parsed)
        if idempotency:
            await store.save_idempotent_response(conn, idempotency[0], ACCEPTED, body)
    log.info(
        "alerts received",
        extra={
            "alerts_received": body["received"],
            "alerts_created": body["created"],
            "alerts_updated": body["updated"],
            "alerts_duplicate": body["duplicates"],
            "alerts_refused": body["refused"],
            "run_id": parsed.run_id,
            "idempotency_key": idempotency[0] if idempotency else None,
            "created_alert_ids": [r["alert_id"] for r in body["results"] if r["created"]],
        },
    )
    return Outcome(ACCEPTED, body)


async def receive(pool: AsyncConnectionPool, metrics: Metrics, parsed: ParsedAlerts,
                  idempotency_key: str | None) -> Outcome:
    """`ingest`, counted in the replica's metrics and its refusals logged: the one way a batch
    is received, over REST and gRPC alike."""
    outcome = await ingest(pool, parsed, idempotency_key)
    if outcome.replayed:
        metrics.replays.inc()
    else:
        for name, label in (("created", "created"), ("updated", "updated"), ("duplicates", "duplicate"),
                            ("refused", "refused")):
            metrics.alerts.labels(label).inc(outcome.body.get(name, 0))
    if parsed.refusals and not outcome.replayed:
        # Ids and reasons only, for whoever reads the service's log (no personal data).
        log.warning("alerts refused", extra={"refused": [
            {k: r[k] for k in ("index", "scan_id", "subject_id", "reason")} for r in parsed.refusals[:20]]})
    return outcome


async def _store_alerts(conn: AsyncConnection, parsed: ParsedAlerts) -> dict[str, Any]:
    alerts = [a for _, a in parsed.valid]
    ids = [alert_id(a.scan_id, a.subject_id) for a in alerts]
    # A pair repeated inside one batch is stored once; later copies report a duplicate.
    first: dict[uuid.UUID, Alert] = {}
    for i, a in zip(ids, alerts):
        first.setdefault(i, a)
    if parsed.run_id:
        for day in sorted({a.date for a in alerts}):
            await store.register_run(conn, day, parsed.run_id, parsed.run_planned_at)
            if await store.run_superseded(conn, day, parsed.run_id):
                # A late batch of an older run (a task cleared after the day was re-run) must
                # not bring back what the newer run withdrew, nor undo its updates.
                raise RunSuperseded(day, parsed.run_id)
    inserted = await store.insert_alerts(conn, list(first.items()), parsed.run_id)
    updated = await store.update_alerts(conn, [(i, a) for i, a in first.items() if i not in inserted],
                                        parsed.run_id)
    results, reported = [], set()
    for i, a in zip(ids, alerts):
        status = "duplicate"
        if i not in reported:
            status = "created" if i in inserted else "updated" if i in updated else "duplicate"
        reported.add(i)
        results.append(ItemResult(alert_id=i, scan_id=a.scan_id, subject_id=a.subject_id,
                                  created=status == "created", status=status))
    count = {s: sum(r.status == s for r in results) for s in ("created", "updated", "duplicate")}
    result = IngestResult(
        received=parsed.received, created=count["created"], updated=count["updated"],
        duplicates=count["duplicate"], refused=len(parsed.refusals), results=results, refusals=parsed.refusals,
    )
    return result.model_dump(mode="json")
