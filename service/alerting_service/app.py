"""Application wiring: settings, token roles, database pool lifecycle, request log, error mapping."""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from alerting_service import db, logs
from alerting_service.auth import Role, TokenAuthority
from alerting_service.config import Settings
from alerting_service.idempotency import IdempotencyKeyReused
from alerting_service.routes import router

log = logging.getLogger("alerting_service")
_REQUEST_ID = re.compile(r"^[\w.-]{1,128}$")
_QUIET_PATHS = {"/healthz", "/readyz"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await db.open_pool(settings)
        try:
            yield
        finally:
            # uvicorn calls this after in-flight requests finished (graceful shutdown).
            await app.state.pool.close()
            log.info("database pool closed")

    app = FastAPI(title="Watchlist alerting service", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.authority = TokenAuthority(
        {Role.PIPELINE: settings.pipeline_tokens, Role.REVIEWER: settings.reviewer_tokens}
    )
    app.include_router(router)
    app.middleware("http")(_request_log)
    app.add_exception_handler(IdempotencyKeyReused, _idempotency_key_reused)
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
        # Method, path and status only: headers carry the token, bodies carry personal data.
        log.log(
            logging.DEBUG if request.url.path in _QUIET_PATHS else logging.INFO,
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        logs.request_id.reset(reset)


async def _idempotency_key_reused(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # 503 makes the balancer try another replica and the client retry later.
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    return JSONResponse(
        {"detail": "database unavailable, retry later"},
        status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )
