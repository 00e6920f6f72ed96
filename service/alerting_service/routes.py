"""HTTP endpoints: health, readiness, POST alerts (pipeline), GET alerts (reviewers)."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from alerting_service import db, store
from alerting_service.auth import Role, require
from alerting_service.idempotency import InvalidIdempotencyKey, fingerprint, parse_key
from alerting_service.ingest import ingest
from alerting_service.models import Airport, AlertBatch, AlertPayload, AlertRecord, IngestResult, PassengerDay

# Reading a whole day is one GET for contract consumers; a day has far fewer alerts than
# this, and a Link rel="next" header says when a page was cut short.
MAX_PAGE = 10_000

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    if await db.is_ready(request.app.state.pool, settings.ready_timeout_seconds):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unavailable"}, status.HTTP_503_SERVICE_UNAVAILABLE)


@router.post(
    "/v1/alerts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResult,
    dependencies=[Depends(require(Role.PIPELINE))],
    summary="Send one alert or a batch {'alerts': [...]}",
)
async def post_alerts(
    request: Request,
    payload: Annotated[AlertPayload, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    idempotency = None
    if idempotency_key is not None:
        try:
            idempotency = (parse_key(idempotency_key), fingerprint(payload))
        except InvalidIdempotencyKey as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    alerts = payload.alerts if isinstance(payload, AlertBatch) else [payload]
    outcome = await ingest(request.app.state.pool, alerts, idempotency)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, outcome.status, headers=headers)


@router.get(
    "/v1/alerts",
    response_model=list[AlertRecord],
    dependencies=[Depends(require(Role.REVIEWER))],
    summary="Alerts received, newest first",
)
async def list_alerts(
    request: Request,
    response: Response,
    date: Annotated[PassengerDay | None, Query(description="passenger day YYYY-MM-DD")] = None,
    airport: Annotated[Airport | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict]:
    async with request.app.state.pool.connection() as conn:
        # One row more than asked tells whether a next page exists without a COUNT.
        rows = await store.list_alerts(conn, day=date, airport=airport, limit=limit + 1, offset=offset)
    if len(rows) > limit:
        rows = rows[:limit]
        next_query = request.url.include_query_params(offset=offset + limit, limit=limit).query
        response.headers["Link"] = f'<{request.url.path}?{next_query}>; rel="next"'
    return rows


@router.get(
    "/v1/alerts/{alert_id}",
    response_model=AlertRecord,
    dependencies=[Depends(require(Role.REVIEWER))],
)
async def get_alert(request: Request, alert_id: uuid.UUID) -> dict:
    async with request.app.state.pool.connection() as conn:
        row = await store.get_alert(conn, alert_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return row
