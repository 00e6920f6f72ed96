"""Application wiring: settings, token roles, sessions, rate limit, database pool lifecycle,
request log and metrics, error mapping."""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from alerting_service import db, logs, ui
from alerting_service.auth import Role, TokenAuthority
from alerting_service.config import Settings
from alerting_service.auth import unauthorized_response
from alerting_service.idempotency import IdempotencyKeyReused
from alerting_service.ingest import RunSuperseded
from alerting_service.metrics import Metrics
from alerting_service.payloads import safe_errors
from alerting_service.ratelimit import RateLimited, RateLimiter
from alerting_service.routes import PAYLOAD_SCHEMAS, api, router
from alerting_service.sessions import SessionSigner

log = logging.getLogger("alerting_service")
_REQUEST_ID = re.compile(r"^[\w.-]{1,128}$")
_QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await db.open_pool(settings)
        app.state.metrics.watch_pool(app.state.pool.get_stats)
        grpc_server = None
        try:
            if settings.grpc_port is not None:
                # Imported here: a REST-only replica (and its tests) needs no gRPC at all.
                from alerting_service.rpc import server as rpc_server

                grpc_server = await rpc_server.start(app.state, settings.grpc_host, settings.grpc_port)
                app.state.grpc_port = grpc_server.port
            yield
        finally:
            # uvicorn calls this after in-flight requests finished (graceful shutdown).
            if grpc_server is not None:
                await grpc_server.stop()
            await app.state.pool.close()
            log.info("database pool closed")

    app = FastAPI(
        title="Watchlist alerting service", version="1", lifespan=lifespan,
        description="Receives watchlist-match alerts from the screening pipeline (idempotent per "
        "(scan_id, subject_id) pair and per Idempotency-Key), lists them for reviewers, records "
        "their decisions with an audit trail and serves those decisions back as training labels. "
        "The review page for people is at /review.",
    )
    app.state.settings = settings
    app.state.authority = TokenAuthority({
        Role.PIPELINE: settings.pipeline_tokens,
        Role.REVIEWER: settings.reviewer_tokens,
        Role.LABELS: settings.label_tokens,
    })
    app.state.sessions = SessionSigner(settings.reviewer_tokens)
    app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.metrics = Metrics()
    app.include_router(router)
    app.include_router(api)
    app.include_router(ui.router)
    app.mount("/review/static", ui.static_files, name="review-static")
    app.middleware("http")(_request_log)
    app.openapi = lambda: _openapi(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(IdempotencyKeyReused, _idempotency_key_reused)
    app.add_exception_handler(RunSuperseded, _run_superseded)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    return app


async def _request_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    # The balancer's X-Request-ID ties its access log to ours; anything odd is replaced.
    incoming = request.headers.get("x-request-id", "")
    rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    reset = logs.request_id.set(rid)
    started = time.perf_counter()
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    try:
        response = await call_next(request)
        status_code = response.status_code
        response.headers["X-Request-ID"] = rid
        return response
    finally:
        elapsed = time.perf_counter() - started
        # The matched route's template, so that ids in paths do not make a series each.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics = request.app.state.metrics
        metrics.requests.labels(request.method, route, str(status_code)).inc()
        metrics.latency.labels(request.method, route).observe(elapsed)
        # Method, path, status and the credential's id only: headers carry the token,
        # bodies and query strings carry personal data.
        log.log(
            logging.DEBUG if request.url.path in _QUIET_PATHS else logging.INFO,
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "credential_id": getattr(request.state, "credential_id", None),
            },
        )
        logs.request_id.reset(reset)


def _openapi(app: FastAPI) -> dict:
    # POST /v1/alerts documents its body by hand (routes.py); its models join the others here.
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(PAYLOAD_SCHEMAS)
        app.openapi_schema = schema
    return app.openapi_schema


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI validates bodies before the route's token check runs: a caller without a valid
    # token learns nothing about what a valid request looks like.
    if request.url.path.startswith("/v1/"):
        refused = unauthorized_response(request)
        if refused is not None:
            return refused
    # Locations, messages and types only: FastAPI's default echoes the input, which can be
    # megabytes long or unencodable (NaN, a lone surrogate) and then failed as a 500.
    return JSONResponse({"detail": safe_errors(list(exc.errors()))}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _idempotency_key_reused(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _run_superseded(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_410_GONE)


async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
    request.app.state.metrics.rate_limited.inc()
    return JSONResponse({"detail": str(exc)}, status.HTTP_429_TOO_MANY_REQUESTS,
                        headers={"Retry-After": exc.retry_after_header})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # 503 makes the balancer try another replica and the client retry later.
    request.app.state.metrics.db_unavailable.inc()
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    return JSONResponse(
        {"detail": "database unavailable, retry later"},
        status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )
