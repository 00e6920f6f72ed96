"""The Alerts service's methods: each one checks its caller, validates its input with the
REST API's models and stores or reads through the same modules (ingest, runs, reviews,
store), so the two APIs cannot drift apart."""
from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import grpc
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from alerting_service import paging, reviews, runs, store
from alerting_service.auth import Role
from alerting_service.idempotency import parse_key
from alerting_service.ingest import receive
from alerting_service.models import (
    Airport,
    DigitsOnly,
    PassengerDay,
    ReviewDecision,
    RunCompletion,
    RunId,
    Status,
)
from alerting_service.payloads import validate_payload
from alerting_service.rpc import convert
from alerting_service.rpc.calls import Refused, authorize, call, invalid
from alerting_service.rpc.schema import pb, services
from alerting_service.rpc.watch import WATCH_BATCH, Horizon

# A console that sees nothing for this long gets a heartbeat, which also keeps the
# balancer (grpc_read_timeout) from cutting a quiet stream.
HEARTBEAT_SECONDS = 10.0
# The longest a drained stream waits before looking again (it wakes as soon as the horizon
# moves on).
POLL_SECONDS = 1.0


class _ListQuery(BaseModel):
    date: PassengerDay | None = None
    airport: Airport | None = None
    status: Status | None = None
    limit: int = Field(paging.MAX_PAGE, ge=1, le=paging.MAX_PAGE)
    offset: Annotated[int, Field(ge=0, le=paging.MAX_OFFSET), DigitsOnly] = 0


class _WatchQuery(BaseModel):
    after: int = Field(0, ge=0, le=paging.MAX_CURSOR)
    date: PassengerDay | None = None
    airport: Airport | None = None


class _RunQuery(BaseModel):
    date: PassengerDay
    run_id: RunId


def _present(message: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(message, name) for name in names if message.HasField(name)}


def _validated(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """`model` from `data`, or INVALID_ARGUMENT naming each field at fault (as REST's 422)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


def _alert_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, [
            {"loc": ["alert_id"], "msg": "Input should be a valid UUID", "type": "uuid_parsing"}]) from None


def _found(row: dict[str, Any] | None) -> Any:
    """The alert as an AlertRecord, or the NOT_FOUND of every call about one alert."""
    if row is None:
        raise Refused(grpc.StatusCode.NOT_FOUND, "no such alert")
    return convert.record_message(row)


class AlertsServicer(services.AlertsServicer):
    def __init__(self, state: Any):
        self.state = state
        self.horizon = Horizon(state)

    @call
    async def SubmitAlerts(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        authorize(self.state, context, Role.PIPELINE)
        key = parse_key(request.idempotency_key) if request.HasField("idempotency_key") else None
        payload = {"alerts": [convert.alert_to_dict(a) for a in request.alerts],
                   **_present(request, "run_id", "run_planned_at")}
        # The REST API's validation, alert by alert, off the event loop as there.
        parsed = await run_in_threadpool(validate_payload, payload)
        outcome = await receive(self.state.pool, self.state.metrics, parsed, key)
        return convert.ingest_response(outcome.body, outcome.replayed)

    @call
    async def CompleteRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        authorize(self.state, context, Role.PIPELINE)
        where = _validated(_RunQuery, {"date": request.date, "run_id": request.run_id})
        body = _validated(RunCompletion, _present(request, "model_version", "batches", "batch", "planned_at"))
        state = await runs.complete_batch(self.state.pool, where.date, where.run_id, body.model_version,
                                          body.batches, body.batch, body.planned_at)
        return convert.run_state_message(state)

    @call
    async def GetAlert(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        authorize(self.state, context, Role.REVIEWER)
        alert_id = _alert_id(request.alert_id)
        async with self.state.pool.connection() as conn:
            return _found(await store.get_alert(conn, alert_id))

    @call
    async def ListAlerts(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        authorize(self.state, context, Role.REVIEWER)
        query = _validated(_ListQuery, {
            **_present(request, "date", "airport", "status"),
            **({"limit": request.page_size} if request.page_size else {}),
            **({"offset": request.page_token} if request.page_token else {}),
        })
        async with self.state.pool.connection() as conn:
            rows = await store.list_alerts(conn, day=query.date, airport=query.airport, status=query.status,
                                           limit=paging.over_fetch(query.limit), offset=query.offset)
        rows, more = paging.cut(rows, query.limit)
        return pb.ListAlertsResponse(alerts=[convert.record_message(r) for r in rows],
                                     next_page_token=str(query.offset + query.limit) if more else "")

    @call
    async def ReviewAlert(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        principal = authorize(self.state, context, Role.REVIEWER)
        alert_id = _alert_id(request.alert_id)
        decision = _validated(ReviewDecision, {"decision": request.decision, "reviewer": request.reviewer,
                                               **_present(request, "note")})
        return _found(await reviews.record(self.state.pool, self.state.metrics, alert_id, decision,
                                           principal.credential_id))

    @call
    async def WatchAlerts(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        authorize(self.state, context, Role.REVIEWER)
        query = _validated(_WatchQuery, {"after": request.after, **_present(request, "date", "airport")})
        cursor, quiet_since = query.after, time.monotonic()
        if request.from_now:
            cursor = max(cursor, await self.horizon.settled(fresh=True))
        while True:
            settled = await self.horizon.settled()
            rows: list[dict[str, Any]] = []
            if settled > cursor:
                async with self.state.pool.connection() as conn:
                    rows = await store.alerts_after(conn, after=cursor, upto=settled, day=query.date,
                                                    airport=query.airport, limit=WATCH_BATCH)
            for row in rows:
                cursor = row["seq"]
                yield pb.AlertEvent(cursor=cursor, alert=convert.record_message(row))
            if len(rows) == WATCH_BATCH:
                continue  # more are waiting
            if rows:
                quiet_since = time.monotonic()
            # Everything up to `settled` has been seen (the filters left out the rest).
            cursor = max(cursor, settled)
            if time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                quiet_since = time.monotonic()
                yield pb.AlertEvent(cursor=cursor)
            await self.horizon.wait(POLL_SECONDS)
