"""Bearer-token roles: pipeline tokens may only send alerts, reviewer tokens may read and
decide on them, label tokens may only read the decisions (training labels)."""
from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from fastapi import HTTPException, Request, Security, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerting_service.ratelimit import client_key


class Role(str, enum.Enum):
    PIPELINE = "pipeline"
    REVIEWER = "reviewer"
    LABELS = "labels"


def _digest(token: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison time independent of token length.
    return hashlib.sha256(token.encode("utf-8")).digest()


def credential_id(token: str) -> str:
    """A name for a token that audit rows, logs and rate limits can carry: a hash prefix
    (a token is 24 random bytes, so the prefix reveals nothing usable)."""
    return "tok-" + hashlib.sha256(b"alerting-credential-id\x00" + token.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Principal:
    credential_id: str
    roles: frozenset[Role]


class TokenAuthority:
    def __init__(self, tokens: dict[Role, Iterable[str]]):
        self._entries = [(role, _digest(t), credential_id(t)) for role, ts in tokens.items() for t in ts]

    def identify(self, token: str) -> Principal | None:
        presented = _digest(token)
        roles, cid = set(), None
        # No early exit: every stored token is compared whatever matches.
        for role, stored, stored_cid in self._entries:
            if hmac.compare_digest(presented, stored):
                roles.add(role)
                cid = stored_cid
        return Principal(cid, frozenset(roles)) if cid else None


# auto_error=False: the 401 below carries the RFC 6750 challenge; the scheme object is
# what puts "bearer" security into the published OpenAPI document.
_bearer = HTTPBearer(auto_error=False, description="a pipeline, reviewer or label-reader token")


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" + (f' error="{error}"' if error else "")
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge})


def unauthorized_response(request: Request) -> JSONResponse | None:
    """The 401 a request without a known bearer token gets, or None when its token is known
    (for answers given before the route's own check, e.g. an unreadable body)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if token and request.app.state.authority.identify(token) is not None:
        return None
    request.app.state.limiter.check(client_key(request))
    error = _unauthorized("invalid bearer token", "invalid_token") if token else _unauthorized("missing bearer token")
    return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)


def require(*allowed: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency admitting bearer tokens of any of the `allowed` roles.

    Every request is rate-limited, the rejected ones too (by client address), so guessing
    tokens is as slow as using one.
    """
    names = " or ".join(r.value for r in allowed)

    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(_bearer)
    ) -> Principal:
        token = credentials.credentials.strip() if credentials else ""
        principal = request.app.state.authority.identify(token) if token else None
        request.app.state.limiter.check(principal.credential_id if principal else client_key(request))
        if not token:
            raise _unauthorized("missing bearer token")
        if principal is None:
            raise _unauthorized("invalid bearer token", "invalid_token")
        request.state.credential_id = principal.credential_id  # for the request log
        if not principal.roles & set(allowed):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this endpoint needs a {names} token")
        return principal

    return check
