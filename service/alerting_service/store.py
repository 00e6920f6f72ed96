"""SQL for the alerts table (sql/alerts/). Every function takes a connection, so the caller
decides what shares a transaction."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.errors import LockNotAvailable

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
_COLUMNS = sql.SQL(
    "alert_id, {}, received_at, "
    "CASE WHEN withdrawn_at IS NOT NULL THEN 'withdrawn' ELSE status END AS status, status AS review_status, "
    "reviewed_by, reviewed_at, run_id, revision, updated_at, withdrawn_at, withdrawn_by_run, withdrawn_by_model"
).format(sql.SQL(", ").join(sql.Identifier(c) for c, _ in _INSERT_COLUMNS))
_SELECT = sql.SQL("SELECT {} FROM alerts.alerts").format(_COLUMNS)
# What a re-run may change about an alert (the pair, its day and airport are the alert).
_CONTENT = [c for c, _ in _INSERT_COLUMNS if c not in ("scan_id", "subject_id", "airport", "date")]


def _insert_statement() -> sql.Composed:
    # One statement per batch: each column travels as one array and unnest() turns the
    # arrays back into rows, so a batch costs one round trip whatever its size.
    names = ["alert_id", *(c for c, _ in _INSERT_COLUMNS), "run_id"]
    types = ["uuid", *(t for _, t in _INSERT_COLUMNS), "text"]
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


def _update_statement() -> sql.Composed:
    # For pairs that exist already: a changed content (or a withdrawn alert sent again) makes
    # a new revision, the old row going to alert_revisions first; the same content only
    # records which run sent it last. One statement: the CTEs read the rows before the update.
    names = ["alert_id", *_CONTENT, "run_id"]
    types = ["uuid", *(t for c, t in _INSERT_COLUMNS if c in _CONTENT), "text"]

    def incoming(n: str) -> sql.Composable:
        return sql.SQL("v.{}::jsonb" if n in _JSON_FIELDS else "v.{}").format(sql.Identifier(n))

    differs = sql.SQL("({}) IS DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.SQL("a.{}").format(sql.Identifier(n)) for n in _CONTENT),
        sql.SQL(", ").join(incoming(n) for n in _CONTENT),
    )
    return sql.SQL(
        "WITH v AS (SELECT * FROM unnest({arrays}) AS v({cols})), "
        "flags AS (SELECT a.alert_id, ({differs} OR a.withdrawn_at IS NOT NULL) AS changed "
        "          FROM alerts.alerts a JOIN v USING (alert_id) ORDER BY a.alert_id FOR UPDATE OF a), "
        "kept AS (INSERT INTO alerts.alert_revisions (alert_id, revision, superseded_by_run, change, record) "
        "         SELECT a.alert_id, a.revision, %s, 'updated', to_jsonb(a) "
        "         FROM alerts.alerts a JOIN flags f USING (alert_id) WHERE f.changed) "
        "UPDATE alerts.alerts a SET {assign}, "
        "  run_id = coalesce(v.run_id, a.run_id), "
        "  revision = a.revision + CASE WHEN f.changed THEN 1 ELSE 0 END, "
        "  updated_at = CASE WHEN f.changed THEN now() ELSE a.updated_at END, "
        "  withdrawn_at = NULL, withdrawn_by_run = NULL, withdrawn_by_model = NULL "
        "FROM v JOIN flags f USING (alert_id) "
        "WHERE a.alert_id = v.alert_id AND (f.changed OR a.run_id IS DISTINCT FROM coalesce(v.run_id, a.run_id)) "
        "RETURNING a.alert_id, f.changed"
    ).format(
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(t)) for t in types),
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        differs=differs,
        assign=sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(n), incoming(n)) for n in _CONTENT),
    )


_INSERT = _insert_statement()
_UPDATE = _update_statement()


def _column(alerts: list[tuple[uuid.UUID, Alert]], name: str) -> list[Any]:
    values = [getattr(alert, name) for _, alert in alerts]
    return [None if v is None else json.dumps(v) for v in values] if name in _JSON_FIELDS else values


async def insert_alerts(conn: AsyncConnection, alerts: list[tuple[uuid.UUID, Alert]],
                        run_id: str | None = None) -> set[uuid.UUID]:
    """Insert alerts whose pair is new; return the ids actually inserted."""
    columns: list[list[Any]] = [[alert_id for alert_id, _ in alerts]]
    columns += [_column(alerts, name) for name, _ in _INSERT_COLUMNS]
    columns.append([run_id] * len(alerts))
    cur = await conn.execute(_INSERT, columns)
    return {row["alert_id"] for row in await cur.fetchall()}


async def update_alerts(conn: AsyncConnection, alerts: list[tuple[uuid.UUID, Alert]],
                        run_id: str | None = None) -> set[uuid.UUID]:
    """Bring existing alerts up to date with what was sent; return the ids whose content
    changed (each now has a new revision)."""
    if not alerts:
        return set()
    columns: list[list[Any]] = [[alert_id for alert_id, _ in alerts]]
    columns += [_column(alerts, name) for name in _CONTENT]
    columns.append([run_id] * len(alerts))
    cur = await conn.execute(_UPDATE, [*columns, run_id])
    return {row["alert_id"] for row in await cur.fetchall() if row["changed"]}


async def register_run(conn: AsyncConnection, day: dt.date, run_id: str, planned_at: dt.datetime | None) -> None:
    """Record the run once; its start is when it was planned, or else when first heard of."""
    await conn.execute(
        "INSERT INTO alerts.runs (date, run_id, started_at) VALUES (%s, %s, coalesce(%s, clock_timestamp())) "
        "ON CONFLICT DO NOTHING", [day, run_id, planned_at])


async def run_superseded(conn: AsyncConnection, day: dt.date, run_id: str) -> bool:
    """Whether a later run of the day exists (the day's newest run is the one that counts)."""
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM alerts.runs r JOIN alerts.runs n ON n.date = r.date AND n.run_id <> r.run_id "
        "AND n.started_at > r.started_at WHERE r.date = %s AND r.run_id = %s) AS superseded", [day, run_id])
    return (await cur.fetchone())["superseded"]


async def revisions(conn: AsyncConnection, alert_id: uuid.UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT alert_id, revision, superseded_at, superseded_by_run, change, record "
        "FROM alerts.alert_revisions WHERE alert_id = %s ORDER BY revision", [alert_id])
    return await cur.fetchall()


async def list_alerts(
    conn: AsyncConnection, *, day: dt.date | None, airport: str | None, status: str | None,
    limit: int, offset: int,
) -> list[dict[str, Any]]:
    filters, params = [], []
    # Only the filters given are added, so the planner always sees a plain condition.
    for column, value in (("date", day), ("airport", airport), ("status", status)):
        if value is not None and value != "withdrawn":
            filters.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if status is not None:
        # A withdrawn alert keeps its review status, but is listed as withdrawn only.
        filters.append(sql.SQL("withdrawn_at IS NOT NULL" if status == "withdrawn" else "withdrawn_at IS NULL"))
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


async def alerts_after(conn: AsyncConnection, *, after: int, upto: int, day: dt.date | None, airport: str | None,
                       limit: int) -> list[dict[str, Any]]:
    """Alerts stored after `after` and up to `upto` (seq), oldest first: a watcher's next events."""
    filters = [sql.SQL("seq > %s"), sql.SQL("seq <= %s")]
    params: list[Any] = [after, upto]
    for column, value in (("date", day), ("airport", airport)):
        if value is not None:
            filters.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    query = sql.SQL("SELECT seq, {} FROM alerts.alerts WHERE {} ORDER BY seq LIMIT %s").format(
        _COLUMNS, sql.SQL(" AND ").join(filters))
    cur = await conn.execute(query, [*params, limit])
    return await cur.fetchall()


async def settled_seq(conn: AsyncConnection, lock_timeout: str = "1s") -> int | None:
    """The highest alert seq below which no alert can still appear, or None when the writers
    did not let go within `lock_timeout`.

    Seqs are handed out when a row is inserted, but become visible when its transaction
    commits, in another order: a watcher that had read seq 12 and moved on could never see a
    seq 11 committed later. A SHARE lock waits for every writer in flight (and holds new
    ones back for that moment), so every seq up to max(seq) then is final.
    """
    try:
        async with conn.transaction():
            await conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(lock_timeout)))
            await conn.execute("LOCK TABLE alerts.alerts IN SHARE MODE")
            cur = await conn.execute("SELECT coalesce(max(seq), 0) AS settled FROM alerts.alerts")
            return (await cur.fetchone())["settled"]
    except LockNotAvailable:
        return None
