"""What every gRPC call goes through, as every REST request does: the bearer token and its
role (metadata), the rate limit, the request log and metrics, and the mapping of the
service's errors to status codes (the REST API's 4xx/5xx, see alerts.proto)."""
from __future__ import annotations

import asyncio
import functools
import inspect
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import grpc
import psycopg
from psycopg_pool import PoolTimeout
from pydantic import ValidationError

from alerting_service import logs
from alerting_service.auth import Principal, Role
from alerting_service.idempotency import IdempotencyKeyReused, InvalidIdempotencyKey
from alerting_service.ingest import RunSuperseded
from alerting_service.payloads import BodyRefused, safe_errors
from alerting_service.ratelimit import RateLimited

log = logging.getLogger("alerting_service")
_REQUEST_ID = re.compile(r"^[\w.-]{1,128}$")
_credential: ContextVar[str | None] = ContextVar("credential_id", default=None)


class Refused(Exception):
    """A call the service answers with `code` and `detail` (a message, or field errors)."""

    def __init__(self, code: grpc.StatusCode, detail: str | list[dict[str, Any]]):
        super().__init__(detail if isinstance(detail, str) else "invalid request")
        self.code = code
        self.detail = detail


def invalid(exc: ValidationError, *prefix: Any) -> Refused:
    return Refused(grpc.StatusCode.INVALID_ARGUMENT,
                   safe_errors(exc.errors(include_url=False, include_context=False, include_input=False), prefix))


def _message(detail: str | list[dict[str, Any]]) -> str:
    # The REST API's `detail` in one line: each field at fault with its message, never the input.
    if isinstance(detail, str):
        return detail
    return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg')}" for e in detail)


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _client_key(context: grpc.aio.ServicerContext, metadata: dict[str, str], trusted: str) -> str:
    """The caller's address, as REST's rate limit keys on it: behind the balancer (a trusted
    peer) the address it forwarded in x-forwarded-for."""
    peer = context.peer() or ""  # ipv4:127.0.0.1:5000, ipv6:[::1]:5000
    host = peer.split(":", 1)[-1].rsplit(":", 1)[0].strip("[]")
    forwarded = metadata.get("x-forwarded-for", "").split(",")[-1].strip()
    if forwarded and (trusted.strip() == "*" or host in {t.strip() for t in trusted.split(",")}):
        try:
            host = str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return "addr-" + (host or "unknown")


def authorize(state: Any, context: grpc.aio.ServicerContext, *allowed: Role) -> Principal:
    """The caller's principal if its token has one of the `allowed` roles; rate-limited
    before anything else is looked at, rejected calls too, so guessing tokens is slow."""
    metadata = _metadata(context)
    scheme, _, token = metadata.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    principal = state.authority.identify(token) if token else None
    state.limiter.check(principal.credential_id if principal else
                        _client_key(context, metadata, state.settings.trusted_proxies))
    if not token:
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, "missing bearer token")
    if principal is None:
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")
    _credential.set(principal.credential_id)  # for the request log
    if not principal.roles & set(allowed):
        names = " or ".join(r.value for r in allowed)
        raise Refused(grpc.StatusCode.PERMISSION_DENIED, f"this method needs a {names} token")
    return principal


def _refusal(state: Any, exc: Exception) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    if isinstance(exc, Refused):
        return exc.code, _message(exc.detail), ()
    if isinstance(exc, BodyRefused):
        code = grpc.StatusCode.RESOURCE_EXHAUSTED if exc.status == 413 else grpc.StatusCode.INVALID_ARGUMENT
        return code, _message(exc.detail), ()
    if isinstance(exc, ValidationError):
        return grpc.StatusCode.INVALID_ARGUMENT, _message(invalid(exc).detail), ()
    if isinstance(exc, InvalidIdempotencyKey):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), ()
    if isinstance(exc, IdempotencyKeyReused):
        return grpc.StatusCode.ALREADY_EXISTS, str(exc), ()
    if isinstance(exc, RunSuperseded):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc), ()
    if isinstance(exc, RateLimited):
        state.metrics.rate_limited.inc()
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), (("retry-after", exc.retry_after_header),)
    if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
        # UNAVAILABLE is what clients retry, on this replica or through the balancer on another.
        state.metrics.db_unavailable.inc()
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return grpc.StatusCode.UNAVAILABLE, "database unavailable, retry later", (("retry-after", "1"),)
    raise exc


def call(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a servicer method (unary, or a server-streaming async generator) with the
    request id, log line, metrics and error mapping every call gets; the servicer's `state`
    is the app's (app.state)."""
    route = f"/watchlist.alerts.v1.Alerts/{_camel(method.__name__)}"

    def begin(context: grpc.aio.ServicerContext) -> tuple[Any, float]:
        incoming = _metadata(context).get("x-request-id", "")
        rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        _credential.set(None)
        return logs.request_id.set(rid), time.perf_counter()

    def end(state: Any, reset: Any, started: float, code: grpc.StatusCode) -> None:
        elapsed = time.perf_counter() - started
        state.metrics.requests.labels("GRPC", route, code.name).inc()
        state.metrics.latency.labels("GRPC", route).observe(elapsed)
        log.info("request", extra={"method": "GRPC", "path": route, "status": code.name,
                                   "duration_ms": round(elapsed * 1000, 1),
                                   "credential_id": _credential.get()})
        logs.request_id.reset(reset)

    async def abort(state: Any, context: grpc.aio.ServicerContext, exc: Exception) -> grpc.StatusCode:
        try:
            code, message, trailing = _refusal(state, exc)
        except Exception:  # noqa: BLE001 (a bug: logged with its traceback, answered without it)
            log.exception("unexpected error in %s", route)
            code, message, trailing = grpc.StatusCode.INTERNAL, "internal error", ()
        if trailing:
            context.set_trailing_metadata(trailing)
        context.set_code(code)
        context.set_details(message)
        return code

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def streaming(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            reset, started = begin(context)
            code = grpc.StatusCode.OK
            try:
                async for item in method(self, request, context):
                    yield item
            except asyncio.CancelledError:  # the watcher went away
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:  # noqa: BLE001 (mapped, or re-raised by _refusal)
                code = await abort(self.state, context, exc)
            finally:
                end(self.state, reset, started, code)
        return streaming

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        reset, started = begin(context)
        code = grpc.StatusCode.OK
        try:
            return await method(self, request, context)
        except Exception as exc:  # noqa: BLE001 (mapped, or re-raised by _refusal)
            code = await abort(self.state, context, exc)
            return None
        finally:
            end(self.state, reset, started, code)
    return unary


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))
