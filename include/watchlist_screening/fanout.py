"""Send one planned batch of the day's matches to the alerting service.

Batches are slices of the day's matches in a stable order, so a retried or cleared task
rebuilds byte-identical payloads and the idempotency key replays the stored answer.
"""
from __future__ import annotations

import datetime as dt
import logging

import psycopg
from psycopg.rows import dict_row

from watchlist_screening.alerts.client import AlertClient
from watchlist_screening.alerts.payload import PASSENGER_FIELDS, SUBJECT_FIELDS, batch_idempotency_key, build_alert
from watchlist_screening.linkage.report_links import alert_report_url

log = logging.getLogger(__name__)

_BATCH_SQL = f"""
SELECT m.scan_id, m.subject_id, p.airport, m.scan_day, m.match_probability, m.match_weight,
       m.model_version, m.photo_similarity, m.evidence, m.group_id,
       {", ".join(f"p.{f} AS passenger_{f}" for f in PASSENGER_FIELDS)},
       {", ".join(f"w.{f} AS subject_{f}" for f in SUBJECT_FIELDS)}
FROM warehouse.matches m
JOIN warehouse.passengers p ON p.scan_day = m.scan_day AND p.scan_id = m.scan_id
JOIN warehouse.watchlist w ON w.version_id = m.watchlist_version AND w.subject_id = m.subject_id
WHERE m.scan_day = %s
ORDER BY m.scan_id, m.subject_id
OFFSET %s LIMIT %s"""


def batch_alerts(dsn: str, day: dt.date, offset: int, limit: int, run_report_url: str | None = None) -> list[dict]:
    """The alerts of one slice of the day's matches; each links to its own section of the
    day's run report when `run_report_url` is given."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(_BATCH_SQL, (day, offset, limit)).fetchall()
    return [build_alert(row, run_report_url=alert_report_url(run_report_url, row["scan_id"], row["subject_id"])
                        if run_report_url else None) for row in rows]


def send_batch(dsn: str, base_url: str, token: str, batch: dict) -> dict:
    """Deliver `batch` ({scan_day, index, offset, limit}); return counts for the summary."""
    day = dt.date.fromisoformat(batch["scan_day"])
    alerts = batch_alerts(dsn, day, batch["offset"], batch["limit"], batch.get("run_report_url"))
    if not alerts:
        return {"index": batch["index"], "accepted": 0, "created": 0, "duplicates": 0}
    key = batch_idempotency_key(day, batch["index"], alerts)
    with AlertClient(base_url, token) as client:
        result = client.send_batch(alerts, key)
    log.info("batch %d of %s: %d alerts, %s created, %s duplicates", batch["index"], day, len(alerts),
             result.get("created"), result.get("duplicates"))
    return {"index": batch["index"], "accepted": len(alerts),
            "created": int(result.get("created", 0)), "duplicates": int(result.get("duplicates", 0))}
