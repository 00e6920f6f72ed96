"""HTTP API: health, readiness, metrics, POST alerts (pipeline), read and review alerts
(reviewers), read decisions as labels (reviewers and label readers)."""
from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alerting_service import db, reviews, runs, store
from alerting_service.auth import Principal, Role, require
from alerting_service.idempotency import InvalidIdempotencyKey, parse_key
from alerting_service.ingest import ingest
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
from alerting_service.payloads import BodyRefused, parse_alerts, read_body

log = logging.getLogger(__name__)

# Reading a whole day is one GET for contract consumers; a day has far fewer alerts than
# this, and a Link rel="next" header says when a page was cut short.
MAX_PAGE = 10_000
# Far beyond any real table, and inside PostgreSQL's bigint.
MAX_OFFSET = 2**31 - 1
MAX_CURSOR = 2**63 - 1

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
async def readyz(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    if await db.is_ready(request.app.state.pool, settings.ready_timeout_seconds):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unavailable"}, status.HTTP_503_SERVICE_UNAVAILABLE)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


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
    _: Annotated[Principal, Depends(require(Role.PIPELINE))],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    key = None
    if idempotency_key is not None:
        try:
            key = parse_key(idempotency_key)
        except InvalidIdempotencyKey as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    settings = request.app.state.settings
    try:
        raw = await read_body(request.stream(), request.headers.get("content-length"), settings.max_body_bytes)
        # Parsing and validating megabytes is CPU work: in a worker thread, /readyz and the
        # other requests keep being answered meanwhile.
        parsed = await run_in_threadpool(parse_alerts, raw)
    except BodyRefused as exc:
        return JSONResponse({"detail": exc.detail}, exc.status)
    outcome = await ingest(request.app.state.pool, parsed, key)
    counters = request.app.state.metrics
    if outcome.replayed:
        counters.replays.inc()
    else:
        for name, label in (("created", "created"), ("updated", "updated"), ("duplicates", "duplicate"),
                            ("refused", "refused")):
            counters.alerts.labels(label).inc(outcome.body.get(name, 0))
    if parsed.refusals and not outcome.replayed:
        # Ids and reasons only, for whoever reads the service's log (no personal data).
        log.warning("alerts refused", extra={"refused": [
            {k: r[k] for k in ("index", "scan_id", "subject_id", "reason")} for r in parsed.refusals[:20]]})
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
    request: Request,
    date: Annotated[PassengerDay, Path()],
    run_id: Annotated[RunId, Path()],
    body: RunCompletion,
    _: Annotated[Principal, Depends(require(Role.PIPELINE))],
) -> dict:
    return await runs.complete_batch(request.app.state.pool, date, run_id, body.model_version, body.batches,
                                     body.batch, body.planned_at)


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
    _: Annotated[Principal, Depends(require(Role.REVIEWER))],
    date: Annotated[PassengerDay | None, Query(description="passenger day YYYY-MM-DD")] = None,
    airport: Annotated[Airport | None, Query()] = None,
    status_: Annotated[Status | None, Query(alias="status", description="review status, or withdrawn")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE), DigitsOnly] = MAX_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET), DigitsOnly] = 0,
) -> list[dict]:
    async with request.app.state.pool.connection() as conn:
        # One row more than asked tells whether a next page exists without a COUNT.
        rows = await store.list_alerts(conn, day=date, airport=airport, status=status_, limit=limit + 1,
                                       offset=offset)
    if len(rows) > limit:
        rows = rows[:limit]
        _link_next(request, response, offset=offset + limit, limit=limit)
    return rows


@api.get(
    "/v1/alerts/{alert_id}", response_model=AlertRecord, responses=errors(404, 422), tags=["alerts"],
    summary="One alert",
)
async def get_alert(
    request: Request, alert_id: AlertId, _: Annotated[Principal, Depends(require(Role.REVIEWER))]
) -> dict:
    async with request.app.state.pool.connection() as conn:
        row = await store.get_alert(conn, alert_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return row


@api.patch(
    "/v1/alerts/{alert_id}",
    response_model=AlertRecord,
    responses=errors(400, 404, 422),
    tags=["reviews"],
    summary="Record a review decision (appended to the alert's audit trail)",
)
async def review_alert(
    request: Request,
    alert_id: AlertId,
    decision: ReviewDecision,
    principal: Annotated[Principal, Depends(require(Role.REVIEWER))],
) -> dict:
    row = await record_decision(request, alert_id, decision, principal.credential_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return row


async def record_decision(request: Request, alert_id: uuid.UUID, decision: ReviewDecision,
                          credential_id: str) -> dict | None:
    """The one way a decision is stored, for the API and the review page alike."""
    row = await reviews.decide(
        request.app.state.pool, alert_id, decision=decision.decision, reviewer=decision.reviewer,
        credential_id=credential_id, note=decision.note,
    )
    if row is not None:
        request.app.state.metrics.reviews.labels(decision.decision).inc()
        # Ids only: the reviewer's name and note stay in the database.
        log.info(
            "review recorded",
            extra={"alert_id": str(alert_id), "decision": decision.decision, "credential_id": credential_id},
        )
    return row


@api.get(
    "/v1/alerts/{alert_id}/revisions",
    response_model=list[AlertRevision],
    responses=errors(404, 422),
    tags=["alerts"],
    summary="An alert's earlier states (superseded by a re-run's update or withdrawal), oldest first",
)
async def alert_revisions(
    request: Request, alert_id: AlertId, _: Annotated[Principal, Depends(require(Role.REVIEWER))]
) -> list[dict]:
    async with request.app.state.pool.connection() as conn:
        if await store.get_alert(conn, alert_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
        return await store.revisions(conn, alert_id)


@api.get(
    "/v1/alerts/{alert_id}/reviews",
    response_model=list[ReviewRecord],
    responses=errors(404, 422),
    tags=["reviews"],
    summary="An alert's audit trail, oldest decision first",
)
async def alert_reviews(
    request: Request, alert_id: AlertId, _: Annotated[Principal, Depends(require(Role.REVIEWER))]
) -> list[dict]:
    async with request.app.state.pool.connection() as conn:
        if await store.get_alert(conn, alert_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
        return await reviews.audit_trail(conn, alert_id)


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
    _: Annotated[Principal, Depends(require(Role.REVIEWER, Role.LABELS))],
    since: Annotated[int, Query(ge=0, le=MAX_CURSOR, description="last review_id already read"), DigitsOnly] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE), DigitsOnly] = 1000,
) -> list[dict]:
    async with request.app.state.pool.connection() as conn:
        rows = await reviews.labels_since(conn, since, limit + 1)
    if len(rows) > limit:
        rows = rows[:limit]
        _link_next(request, response, since=rows[-1]["review_id"], limit=limit)
    return rows


def _link_next(request: Request, response: Response, **params: int) -> None:
    next_query = request.url.include_query_params(**params).query
    response.headers["Link"] = f'<{request.url.path}?{next_query}>; rel="next"'
