"""Send one planned batch of the day's matches to the alerting service (planning.py
plans the batches).

Batches are slices of the day's matches in a stable order, so a retried or cleared task
rebuilds byte-identical payloads and the idempotency key replays the stored answer.

Every batch carries the run's id, and once delivered tells the service so; when the last
batch of the run is in, the service withdraws the day's alerts this run no longer
supports (a re-run with another model, fewer matches, or none at all).
"""
from __future__ import annotations

import datetime as dt
import logging

import psycopg
from psycopg.rows import dict_row

from watchlist_screening.alerts.client import AlertClient, NonRetryableAlertError
from watchlist_screening.errors import PermanentError
from watchlist_screening.alerts.payload import batch_idempotency_key, build_alert, key_fields
from watchlist_screening.reporting.links import alert_report_url

log = logging.getLogger(__name__)

_BATCH_SQL = """
SELECT m.scan_id, m.subject_id, p.airport, m.scan_day, m.match_probability, m.match_weight,
       m.model_version, m.photo_similarity, m.evidence, m.group_id,
       {passenger},
       {subject}
FROM warehouse.matches m
JOIN warehouse.passengers p ON p.scan_day = m.scan_day AND p.scan_id = m.scan_id
JOIN warehouse.watchlist w ON w.version_id = m.watchlist_version AND w.subject_id = m.subject_id
WHERE m.scan_day = %s
ORDER BY m.scan_id, m.subject_id
OFFSET %s LIMIT %s"""


TRANSPORTS = ("rest", "grpc")


def client(transport: str, base_url: str, token: str, grpc_target: str | None = None):
    """The alerting client of `transport` (WATCHLIST_ALERT_TRANSPORT): REST with requests
    (client.py) or gRPC (grpc_transport.py); both take the same batches and give the same
    results and errors, so everything below is transport-blind."""
    if transport == "rest":
        return AlertClient(base_url, token)
    if transport == "grpc":
        if not grpc_target:
            raise PermanentError("WATCHLIST_ALERT_TRANSPORT=grpc needs the balancer's gRPC address: the "
                                 "alerting_service connection's extra grpc_port, or ALERTS_GRPC_TARGET")
        from watchlist_screening.alerts.grpc_transport import GrpcAlertClient

        return GrpcAlertClient(grpc_target, token)
    raise PermanentError(f"WATCHLIST_ALERT_TRANSPORT must be one of {', '.join(TRANSPORTS)}, got {transport!r}")


def _batch_sql(privacy_mode: str) -> str:
    # only the fields the mode's alerts carry are read at all
    passenger, subject = key_fields(privacy_mode)
    return _BATCH_SQL.format(passenger=", ".join(f"p.{f} AS passenger_{f}" for f in passenger),
                             subject=", ".join(f"w.{f} AS subject_{f}" for f in subject))


def batch_alerts(dsn: str, day: dt.date, offset: int, limit: int, run_report_url: str | None = None,
                 privacy_mode: str = "clear") -> list[dict]:
    """The alerts of one slice of the day's matches; each links to its own section of the
    day's run report when `run_report_url` is given."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(_batch_sql(privacy_mode), (day, offset, limit)).fetchall()
    return [build_alert(row, run_report_url=alert_report_url(run_report_url, row["scan_id"], row["subject_id"])
                        if run_report_url else None, privacy_mode=privacy_mode) for row in rows]


def send_batch(dsn: str, base_url: str, token: str, batch: dict, transport: str = "rest",
               grpc_target: str | None = None) -> dict:
    """Deliver `batch` ({scan_day, index, offset, limit, run_id, batches, model_version});
    return counts for the summary and the alerts the service refused, with the reason.

    The refused ones do not stop the others: the rest is delivered and the batch recorded
    as done (the caller tells on-call about the refusals)."""
    day = dt.date.fromisoformat(batch["scan_day"])
    run_id = batch.get("run_id")
    alerts = batch_alerts(dsn, day, batch["offset"], batch["limit"], batch.get("run_report_url"),
                          batch.get("privacy_mode", "clear"))
    result: dict = {"created": 0, "updated": 0, "duplicates": 0, "refusals": []}
    with client(transport, base_url, token, grpc_target) as service:
        if alerts:
            key = batch_idempotency_key(day, batch["index"], alerts, run_id)
            try:
                result = service.send_batch(alerts, key, run_id, run_planned_at=batch.get("planned_at"))
            except NonRetryableAlertError as exc:
                if exc.status != 410:
                    raise
                # The day was re-run since this plan: the newer run's alerts stand.
                log.warning("batch %d of %s not sent: run %s was superseded by a later run of the day",
                            batch["index"], day, run_id)
                return {"index": batch["index"], "accepted": 0, "created": 0, "updated": 0, "duplicates": 0,
                        "refused": 0, "refusals": [], "superseded": True}
        if run_id:
            run = service.complete_run(day.isoformat(), run_id, batch["model_version"], batch["batches"],
                                      batch["index"], planned_at=batch.get("planned_at"))
            if run.get("complete"):
                log.info("run %s of %s complete: %s alert(s) of the day withdrawn", run_id, day, run.get("withdrawn"))
    refusals = [{k: r.get(k) for k in ("scan_id", "subject_id", "reason")} for r in result.get("refusals", [])]
    log.info("batch %d of %s: %d alerts, %s created, %s updated, %s duplicates, %d refused", batch["index"], day,
             len(alerts), result.get("created"), result.get("updated"), result.get("duplicates"), len(refusals))
    return {"index": batch["index"], "accepted": len(alerts) - len(refusals),
            "created": int(result.get("created", 0)), "updated": int(result.get("updated", 0)),
            "duplicates": int(result.get("duplicates", 0)), "refused": len(refusals), "refusals": refusals}


def complete_empty_day(base_url: str, token: str, day: str, run_id: str, model_version: str,
                       planned_at: str | None = None, transport: str = "rest", grpc_target: str | None = None) -> dict:
    """A run that sends no alert for its day: the service withdraws all the day's alerts."""
    with client(transport, base_url, token, grpc_target) as service:
        run = service.complete_run(day, run_id, model_version, 0, planned_at=planned_at)
    log.info("run %s of %s sends no alert: %s earlier alert(s) of the day withdrawn", run_id, day,
             run.get("withdrawn"))
    return run


def describe_refusals(batch: dict, sent: dict) -> str:
    """Log each alert the service refused and say what on-call needs in one message: each
    refused alert is a sighting nobody will see, and the same data is refused again."""
    for r in sent["refusals"]:
        log.error("ALERT REFUSED day %s scan_id=%r subject_id=%r: %s", batch["scan_day"], r["scan_id"],
                  r["subject_id"], r["reason"])
    named = "; ".join(f"scan_id={r['scan_id']!r} subject_id={r['subject_id']!r}: {r['reason']}"
                      for r in sent["refusals"][:10])
    more = f" (and {len(sent['refusals']) - 10} more)" if len(sent["refusals"]) > 10 else ""
    return (f"alerting service refused {sent['refused']} alert(s) of batch {batch['index']} of "
            f"{batch['scan_day']} (the other {sent['accepted']} were delivered): {named}{more}")
