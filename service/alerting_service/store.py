"""SQL for the alerts table (sql/alerts/). Every function takes a connection, so the caller
decides what shares a transaction."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from psycopg import AsyncConnection, sql

from alerting_service.models import Alert

_JSON_FIELDS = ("evidence", "passenger", "subject")
# (column, array type the batch is sent as)
_INSERT_COLUMNS = (
    ("scan_id", "text"),
    ("subject_id", "text"),
    ("airport", "text"),
    ("date", "date"),
    ("match_probability", "float8"),
    ("match_weight", "float8"),
    ("model_version", "text"),
    ("photo_similarity", "float8"),
    ("group_id", "text"),
    ("evidence", "text"),
    ("passenger", "text"),
    ("subject", "text"),
    ("run_report_url", "text"),
)
_SELECT = sql.SQL(
    "SELECT alert_id, {}, received_at, status, reviewed_by, reviewed_at FROM alerts.alerts"
).format(sql.SQL(", ").join(sql.Identifier(c) for c, _ in _INSERT_COLUMNS))


def _insert_statement() -> sql.Composed:
    # One statement per batch: each column travels as one array and unnest() turns the
    # arrays back into rows, so a batch costs one round trip whatever its size.
    names = ["alert_id", *(c for c, _ in _INSERT_COLUMNS)]
    types = ["uuid", *(t for _, t in _INSERT_COLUMNS)]
    values = [
        sql.SQL("a.{}::jsonb").format(sql.Identifier(n)) if n in _JSON_FIELDS else sql.SQL("a.{}").format(sql.Identifier(n))
        for n in names
    ]
    # No conflict target: alert_id is derived from the pair, so the primary key and the
    # pair's UNIQUE collide together, and Postgres only skips conflicts on the arbiter
    # index. With (scan_id, subject_id) as the target, two replicas inserting the same pair
    # at once raised UniqueViolation on alerts_pkey (a 500) when the other row committed
    # between the two index checks.
    return sql.SQL(
        "INSERT INTO alerts.alerts ({cols}) SELECT {values} FROM unnest({arrays}) AS a({cols}) "
        "ON CONFLICT DO NOTHING RETURNING alert_id"
    ).format(
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        values=sql.SQL(", ").join(values),
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(t)) for t in types),
    )


_INSERT = _insert_statement()


async def insert_alerts(conn: AsyncConnection, alerts: list[tuple[uuid.UUID, Alert]]) -> set[uuid.UUID]:
    """Insert alerts whose pair is new; return the ids actually inserted."""
    columns: list[list[Any]] = [[alert_id for alert_id, _ in alerts]]
    for name, _ in _INSERT_COLUMNS:
        values = [getattr(alert, name) for _, alert in alerts]
        if name in _JSON_FIELDS:
            values = [None if v is None else json.dumps(v) for v in values]
        columns.append(values)
    cur = await conn.execute(_INSERT, columns)
    return {row["alert_id"] for row in await cur.fetchall()}


async def list_alerts(
    conn: AsyncConnection, *, day: dt.date | None, airport: str | None, status: str | None,
    limit: int, offset: int,
) -> list[dict[str, Any]]:
    filters, params = [], []
    # Only the filters given are added, so the planner always sees a plain condition.
    for column, value in (("date", day), ("airport", airport), ("status", status)):
        if value is not None:
            filters.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(filters) if filters else sql.SQL("")
    query = sql.SQL("{} {} ORDER BY received_at DESC, seq DESC LIMIT %s OFFSET %s").format(_SELECT, where)
    cur = await conn.execute(query, [*params, limit, offset])
    return await cur.fetchall()


async def get_alert(conn: AsyncConnection, alert_id: uuid.UUID) -> dict[str, Any] | None:
    cur = await conn.execute(sql.SQL("{} WHERE alert_id = %s").format(_SELECT), [alert_id])
    return await cur.fetchone()


async def claim_idempotency_key(conn: AsyncConnection, key: str, request_hash: str) -> dict[str, Any] | None:
    """Claim `key` for this request, or return the row of the request that already holds it.

    Must run inside the request's transaction: a concurrent claim of the same key blocks
    on the primary key until this transaction ends, then finds the stored response.
    """
    cur = await conn.execute(
        "INSERT INTO alerts.idempotency_keys (idempotency_key, request_hash) VALUES (%s, %s) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        [key, request_hash],
    )
    if await cur.fetchone():
        return None
    # A separate statement: its snapshot is taken after the wait, so it sees the winner's row.
    cur = await conn.execute(
        "SELECT request_hash, response_status, response_body FROM alerts.idempotency_keys "
        "WHERE idempotency_key = %s",
        [key],
    )
    return await cur.fetchone()


async def save_idempotent_response(conn: AsyncConnection, key: str, status: int, body: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE alerts.idempotency_keys SET response_status = %s, response_body = %s::json "
        "WHERE idempotency_key = %s",
        [status, json.dumps(body), key],
    )
