"""Review-page sessions: a signed cookie derived from the reviewer token used to log in.

The signing key of a session is derived from its reviewer token, so every replica can
check any session without shared state or another secret, and removing a token from the
configuration ends the sessions opened with it. The cookie holds no token. Logging out
revokes the session itself: its id goes to alerts.revoked_sessions, which every replica
checks, so a copy of the cookie stops working too.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from alerting_service.auth import credential_id

COOKIE_NAME = "alerts_review_session"
LIFETIME_SECONDS = 8 * 3600  # one shift


@dataclass(frozen=True)
class Session:
    reviewer: str
    credential_id: str
    csrf_token: str
    session_id: str = ""
    expires_at: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, reviewer_tokens: Iterable[str], *, clock=time.time):
        self._keys = {
            credential_id(t): hmac.new(t.encode("utf-8"), b"alerting review session v1", hashlib.sha256).digest()
            for t in reviewer_tokens
        }
        self._clock = clock

    def open(self, token: str, reviewer: str) -> tuple[str, Session]:
        """A new session cookie value for a reviewer token (the caller has checked the role)."""
        cid = credential_id(token)
        claims = {"cid": cid, "who": reviewer, "exp": int(self._clock()) + LIFETIME_SECONDS,
                  "nonce": secrets.token_urlsafe(12)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(cid, payload)}", self._session(claims)

    def verify(self, cookie: str | None) -> Session | None:
        """The session a cookie stands for, or None if it is forged, expired or its token revoked."""
        payload, _, signature = (cookie or "").partition(".")
        try:
            claims = json.loads(_unb64(payload))
            cid, expires = str(claims["cid"]), int(claims["exp"])
            str(claims["nonce"])
        except (ValueError, KeyError, TypeError):
            return None
        # Claims are only trusted once the signature checks out.
        if cid not in self._keys or not hmac.compare_digest(signature, self._sign(cid, payload)):
            return None
        if expires < self._clock():
            return None
        return self._session(claims)

    def _sign(self, cid: str, payload: str) -> str:
        return _b64(hmac.new(self._keys[cid], payload.encode("ascii"), hashlib.sha256).digest())

    def _session(self, claims: dict) -> Session:
        # Bound to this session's nonce: a token read from one session's page is useless
        # with another session's cookie.
        csrf = _b64(hmac.new(self._keys[claims["cid"]], b"csrf\x00" + claims["nonce"].encode(), hashlib.sha256).digest())
        return Session(reviewer=claims["who"], credential_id=claims["cid"], csrf_token=csrf,
                       session_id=str(claims["nonce"]), expires_at=int(claims["exp"]))

    def csrf_ok(self, session: Session, submitted: str | None) -> bool:
        return hmac.compare_digest(session.csrf_token.encode(), (submitted or "").encode())
