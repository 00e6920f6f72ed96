"""Bearer-token roles: pipeline tokens may only send alerts, reviewer tokens may only read them."""
from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable

from fastapi import HTTPException, Request, status


class Role(str, enum.Enum):
    PIPELINE = "pipeline"
    REVIEWER = "reviewer"


def _digest(token: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison time independent of token length.
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenAuthority:
    def __init__(self, tokens: dict[Role, Iterable[str]]):
        self._digests = [(role, _digest(t)) for role, ts in tokens.items() for t in ts]

    def roles_for(self, token: str) -> set[Role]:
        presented = _digest(token)
        roles = set()
        # No early exit: every stored token is compared whatever matches.
        for role, stored in self._digests:
            if hmac.compare_digest(presented, stored):
                roles.add(role)
        return roles


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" + (f' error="{error}"' if error else "")
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge})


def require(role: Role) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency admitting only bearer tokens of `role`."""

    async def check(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("missing bearer token")
        roles = request.app.state.authority.roles_for(token)
        if not roles:
            raise _unauthorized("invalid bearer token", "invalid_token")
        if role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this endpoint needs a {role.value} token")

    return check
