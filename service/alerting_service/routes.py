"""HTTP API: health, readiness, metrics, POST alerts (pipeline), read and review alerts
(reviewers), read decisions as labels (reviewers and label readers)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import AsyncConnection
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from alerting_service import db, paging, reviews, runs, store
from alerting_service.deps import (
    LabelReader,
    MetricsDep,
    PipelineCaller,
    PoolDep,
    ReviewerCaller,
    SessionDep,
    SettingsDep,
)
from alerting_service.idempotency import InvalidIdempotencyKey, parse_key
from alerting_service.ingest import receive
from alerting_service.models import (
    MAX_BATCH,
    Airport,
    AlertPayload,
    AlertRecord,
    AlertRevision,
    DigitsOnly,
    ErrorBody,
    IngestResult,
    PassengerDay,
    ReviewDecision,
    ReviewLabel,
    ReviewRecord,
    RunCompletion,
    RunId,
    RunState,
    Status,
)
from alerting_service.paging import MAX_CURSOR, MAX_OFFSET, MAX_PAGE
from alerting_service.payloads import BodyRefused, parse_alerts, read_body

log = logging.getLogger(__name__)

_DESCRIPTIONS = {
    400: "Unreadable request: a body that is not UTF-8 (JSON routes other than POST /v1/alerts), "
         "a malformed Content-Length or Idempotency-Key header",
    401: "Missing or unknown bearer token",
    403: "The token's role may not do this",
    404: "No such alert",
    410: "The batch's run_id was superseded by a later run of the day: nothing stored",
    413: "Request body over the size limit (refused before it is parsed)",
    422: "Invalid request; `detail` names each field at fault (or the reused Idempotency-Key), never echoing the input",
    429: "Rate limit exceeded; retry after the Retry-After header's seconds",
    503: "Database unavailable; retry after the Retry-After header's seconds",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give (all with an ErrorBody)."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in (401, 403, 429, 503, *codes)}


async def known_query_only(request: Request) -> None:
    """Refuse query parameters the route does not take: a misspelt filter (?dat=...) would
    otherwise be ignored and answer with everything, unfiltered."""
    route = request.scope["route"]
    known = {param.alias for param in get_flat_dependant(route.dependant).query_params}
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ("query", name), "msg": "Unknown query parameter",
             "input": request.query_params[name]}
            for name in unknown
        ])


router = APIRouter()  # operations: health, readiness, metrics
api = APIRouter(dependencies=[Depends(known_query_only)])  # the /v1 API
AlertId = Annotated[uuid.UUID, Path(description="the alert's id (uuid5 of its scan_id, subject_id pair)")]


@router.get("/healthz", tags=["operations"], summary="Liveness: the process serves requests")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", tags=["operations"], summary="Readiness: the database answers",
    responses={503: {"model": dict[str, str], "description": "database unavailable"}},
)
async def readyz(pool: PoolDep, settings: SettingsDep) -> JSONResponse:
    if await db.is_ready(pool, settings.ready_timeout_seconds):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unavailable"}, status.HTTP_503_SERVICE_UNAVAILABLE)


@router.get("/metrics", include_in_schema=False)
async def metrics(counters: MetricsDep) -> Response:
    return Response(generate_latest(counters.registry), media_type=CONTENT_TYPE_LATEST)


# The body is read and validated by payloads.py (bounded, off the event loop, alert by
# alert), so the request body is documented here rather than declared as a parameter.
_PAYLOAD_SCHEMA = TypeAdapter(AlertPayload).json_schema(ref_template="#/components/schemas/{model}")
PAYLOAD_SCHEMAS = _PAYLOAD_SCHEMA.pop("$defs", {})


@api.post(
    "/v1/alerts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResult,
    responses=errors(400, 410, 413, 422),
    tags=["alerts"],
    summary="Send one alert or a batch {'alerts': [...], 'run_id': ...}",
    description="One alert per (scan_id, subject_id): a repeat is answered as a duplicate with the "
    "original alert_id, or as updated when its content changed (the earlier state is kept as a "
    "revision). In a batch each alert is validated on its own: the valid ones are stored and the "
    "others listed in `refusals` with the reason. With an Idempotency-Key, a repeat of the same "
    "request gets the stored first answer (Idempotent-Replayed: true) and the same key with another "
    f"payload gets 422. At most {MAX_BATCH} alerts per request.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _PAYLOAD_SCHEMA}}}},
)
async def post_alerts(
    request: Request,
    _: PipelineCaller,
    pool: PoolDep,
    settings: SettingsDep,
    counters: MetricsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    key = None
    if idempotency_key is not None:
        try:
            key = parse_key(idempotency_key)
        except InvalidIdempotencyKey as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    try:
        raw = await read_body(request.stream(), request.headers.get("content-length"), settings.max_body_bytes)
        # Parsing and validating megabytes is CPU work: in a worker thread, /readyz and the
        # other requests keep being answered meanwhile.
        parsed = await run_in_threadpool(parse_alerts, raw)
    except BodyRefused as exc:
        return JSONResponse({"detail": exc.detail}, exc.status)
    outcome = await receive(pool, counters, parsed, key)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, outcome.status, headers=headers)


@api.post(
    "/v1/days/{date}/runs/{run_id}/complete",
    response_model=RunState,
    responses=errors(400, 422),
    tags=["alerts"],
    summary="A pipeline run says a batch of its day is delivered; the last one withdraws what the run no longer supports",
    description="Idempotent. When all `batches` of the run are recorded (0 for a day with no match), the "
    "day's alerts that the run did not send are marked withdrawn (never deleted; their review status is "
    "kept), recording this run and model, unless a newer run of the day exists.",
)
async def complete_run(
    date: Annotated[PassengerDay, Path()],
    run_id: Annotated[RunId, Path()],
    body: RunCompletion,
    _: PipelineCaller,
    pool: PoolDep,
) -> dict:
    return await runs.complete_batch(pool, date, run_id, body.model_version, body.batches, body.batch,
                                     body.planned_at)


@api.get(
    "/v1/alerts",
    response_model=list[AlertRecord],
    responses=errors(422),
    tags=["alerts"],
    summary="Alerts received, newest first",
)
async def list_alerts(
    request: Request,
    response: Response,
    _: ReviewerCaller,
    conn: SessionDep,
    date: Annotated[PassengerDay | None, Query(description="passenger day YYYY-MM-DD")] = None,
    airport: Annotated[Airport | None, Query()] = None,
    status_: Annotated[Status | None, Query(alias="status", description="review status, or withdrawn")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE), DigitsOnly] = MAX_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET), DigitsOnly] = 0,
) -> list[dict]:
    rows, more = paging.cut(await store.list_alerts(conn, day=date, airport=airport, status=status_,
                                                    limit=paging.over_fetch(limit), offset=offset), limit)
    if more:
        paging.link_next(request, response, offset=offset + limit, limit=limit)
    return rows


@api.get(
    "/v1/alerts/{alert_id}", response_model=AlertRecord, responses=errors(404, 422), tags=["alerts"],
    summary="One alert",
)
async def get_alert(alert_id: AlertId, _: ReviewerCaller, conn: SessionDep) -> dict:
    return await _existing_alert(conn, alert_id)


@api.patch(
    "/v1/alerts/{alert_id}",
    response_model=AlertRecord,
    responses=errors(400, 404, 422),
    tags=["reviews"],
    summary="Record a review decision (appended to the alert's audit trail)",
)
async def review_alert(
    alert_id: AlertId, decision: ReviewDecision, principal: ReviewerCaller, pool: PoolDep, counters: MetricsDep,
) -> dict:
    row = await reviews.record(pool, counters, alert_id, decision, principal.credential_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return row


def _about_one_alert(path: str, name: str, model: type, tag: str, summary: str,
                     fetch: Callable[[AsyncConnection, uuid.UUID], Awaitable[list[dict]]]) -> None:
    """A GET listing rows that belong to one alert (404 when there is no such alert)."""

    @api.get(path, name=name, response_model=list[model], responses=errors(404, 422), tags=[tag], summary=summary)
    async def listing(alert_id: AlertId, _: ReviewerCaller, conn: SessionDep) -> list[dict]:
        await _existing_alert(conn, alert_id)
        return await fetch(conn, alert_id)


_about_one_alert("/v1/alerts/{alert_id}/revisions", "alert_revisions", AlertRevision, "alerts",
                 "An alert's earlier states (superseded by a re-run's update or withdrawal), oldest first",
                 store.revisions)
_about_one_alert("/v1/alerts/{alert_id}/reviews", "alert_reviews", ReviewRecord, "reviews",
                 "An alert's audit trail, oldest decision first", reviews.audit_trail)


async def _existing_alert(conn: AsyncConnection, alert_id: uuid.UUID) -> dict:
    """The alert, or the 404 of every route about one alert."""
    row = await store.get_alert(conn, alert_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return row


@api.get(
    "/v1/reviews",
    response_model=list[ReviewLabel],
    responses=errors(422),
    tags=["reviews"],
    summary="Decisions as training labels, in the order they were made",
    description="Every decision after review `since` (exclusive), oldest first. Keep the last "
    "review_id seen and pass it as `since` next time; a later decision on the same pair supersedes "
    "an earlier one.",
)
async def list_labels(
    request: Request,
    response: Response,
    _: LabelReader,
    conn: SessionDep,
    since: Annotated[int, Query(ge=0, le=MAX_CURSOR, description="last review_id already read"), DigitsOnly] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE), DigitsOnly] = 1000,
) -> list[dict]:
    rows, more = paging.cut(await reviews.labels_since(conn, since, paging.over_fetch(limit)), limit)
    if more:
        paging.link_next(request, response, since=rows[-1]["review_id"], limit=limit)
    return rows
