"""The review page: a day's alerts, newest first, with their evidence and decision buttons.

Server-rendered forms, no JavaScript. A reviewer logs in with their name and reviewer
token; the page then runs on a session cookie (HttpOnly, SameSite=Strict) and every form
that changes something carries a CSRF token and must come from this origin.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from alerting_service import reviews, store
from alerting_service.auth import Role
from alerting_service.models import Decision, DigitsOnly, PassengerDay, ReviewDecision, Status
from alerting_service.ratelimit import client_key
from alerting_service.sessions import COOKIE_NAME, LIFETIME_SECONDS, Session

_HERE = Path(__file__).parent
PAGE_SIZE = 100
_templates = Jinja2Templates(directory=_HERE / "templates")  # autoescapes every value
# Joiners shape words in several scripts (Persian, Indic, emoji); every other control or
# format character is shown as its code point.
_KEEP_FORMAT = {"\u200c", "\u200d"}


def neutralise(value: Any) -> Any:
    """Text as it may be shown to a reviewer: control characters and bidi overrides (which
    can reorder or hide what a name says) become visible code points, e.g. ⟨U+202E⟩."""
    if not isinstance(value, str) or value.isprintable():
        return value
    return "".join(
        f"⟨U+{ord(c):04X}⟩" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs")
        and c not in _KEEP_FORMAT else c
        for c in value
    )


# Applied to every {{ value }} the templates print, before autoescaping.
_templates.env.finalize = neutralise
# No scripts at all, so an injected <script> or javascript: link cannot run either.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it browsers send "Origin: null" even with this page's own forms.
    "Referrer-Policy": "same-origin",
    # The page shows personal data: no copy in any cache.
    "Cache-Control": "no-store",
}
# The pipeline's reports are its own pages with inline charts (Vega needs eval); they may
# fetch nothing and be framed by no one.
_REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Report files are named by the pipeline: run-<day>.html, <model version>.html.
_REPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.html")
DECISION_LABELS: dict[str, str] = {"confirmed": "Confirm match", "false_positive": "False positive",
                                   "needs_info": "Needs info"}

router = APIRouter(prefix="/review", include_in_schema=False)
static_files = StaticFiles(directory=_HERE / "static")


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    response = _templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(_SECURITY_HEADERS)
    return response


async def _session(request: Request) -> Session | None:
    session = request.app.state.sessions.verify(request.cookies.get(COOKIE_NAME))
    if session is None:
        return None
    async with request.app.state.pool.connection() as conn:
        cur = await conn.execute("SELECT 1 FROM alerts.revoked_sessions WHERE session_id = %s", [session.session_id])
        revoked = await cur.fetchone()
    return None if revoked else session


async def _revoke(request: Request, session: Session) -> None:
    async with request.app.state.pool.connection() as conn, conn.transaction():
        # Expired sessions fail their signature check anyway: their rows can go.
        await conn.execute("DELETE FROM alerts.revoked_sessions WHERE expires_at < now()")
        await conn.execute(
            "INSERT INTO alerts.revoked_sessions (session_id, expires_at) VALUES (%s, to_timestamp(%s)) "
            "ON CONFLICT DO NOTHING", [session.session_id, session.expires_at])


def _same_origin(request: Request) -> bool:
    # Browsers send Origin with every form POST; a cross-site one is refused even before
    # the CSRF token is looked at. (No Origin: an old browser or a tool; the token decides.)
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _to_login() -> RedirectResponse:
    return RedirectResponse("/review/login", status_code=303)


@router.get("/login")
async def login_form(request: Request) -> Response:
    if await _session(request):
        return RedirectResponse("/review", status_code=303)
    return _page(request, "login.html")


@router.post("/login")
async def login(
    request: Request,
    reviewer: Annotated[str, Form(max_length=200)] = "",
    token: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    # Limited by client address: guessing tokens through the form is as slow as through the API.
    request.app.state.limiter.check(client_key(request))
    if not _same_origin(request):
        return _page(request, "error.html", 403, message="This form must be sent from the review page itself.")
    principal = request.app.state.authority.identify(token.strip()) if token.strip() else None
    name = reviewer.strip()
    if principal is None or Role.REVIEWER not in principal.roles or not name:
        problem = "Enter your name." if principal and not name else "That is not a reviewer token."
        return _page(request, "login.html", 401, error=problem, reviewer=name)
    cookie, _ = request.app.state.sessions.open(token.strip(), name)
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(
        COOKIE_NAME, cookie, max_age=LIFETIME_SECONDS, path="/review", httponly=True, samesite="strict",
        # Behind TLS (the balancer says so in X-Forwarded-Proto) the cookie never travels in clear.
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    session = await _session(request)
    if session and _same_origin(request) and request.app.state.sessions.csrf_ok(session, csrf):
        await _revoke(request, session)
        response = _to_login()
        response.delete_cookie(COOKIE_NAME, path="/review")
        return response
    return _page(request, "error.html", 403, message="Log-out refused: the form was not from this page.")


@router.get("")
async def review_page(
    request: Request,
    date: Annotated[PassengerDay | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1), DigitsOnly] = 0,
) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    day = date or dt.datetime.now(dt.timezone.utc).date()
    async with request.app.state.pool.connection() as conn:
        rows = await store.list_alerts(conn, day=day, airport=None, status=status, limit=PAGE_SIZE + 1, offset=offset)
    filters = {"date": day.isoformat(), **({"status": status} if status else {})}
    more = len(rows) > PAGE_SIZE
    return _page(
        request, "review.html",
        session=session, day=day, status=status, alerts=[_view(r) for r in rows[:PAGE_SIZE]],
        decisions=DECISION_LABELS, statuses=["new", *DECISION_LABELS, "withdrawn"],
        filters=filters, offset=offset,
        next_url=f"/review?{urlencode({**filters, 'offset': offset + PAGE_SIZE})}" if more else None,
        prev_url=f"/review?{urlencode({**filters, 'offset': max(0, offset - PAGE_SIZE)})}" if offset else None,
    )


@router.post("/alerts/{alert_id}")
async def review_decision(
    request: Request,
    alert_id: uuid.UUID,
    decision: Annotated[Decision, Form()],
    csrf: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    date: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    if not (_same_origin(request) and request.app.state.sessions.csrf_ok(session, csrf)):
        return _page(request, "error.html", 403, message="Decision refused: the form was not from this page.")
    try:
        review = ReviewDecision(decision=decision, reviewer=session.reviewer, note=note.strip() or None)
    except ValidationError as exc:
        return _page(request, "error.html", 422, message=f"Decision refused: {exc.errors()[0]['msg']}.")
    if await reviews.record(request.app.state.pool, request.app.state.metrics, alert_id, review,
                            session.credential_id) is None:
        return _page(request, "error.html", 404, message="There is no such alert.")
    # Post/redirect/get: reloading the page afterwards does not send the decision again.
    back = {k: v for k, v in (("date", date), ("status", status)) if v}
    return RedirectResponse(f"/review?{urlencode(back)}#alert-{alert_id}", status_code=303)


def _view(row: dict[str, Any]) -> dict[str, Any]:
    """What the template shows of one alert: the two records side by side, evidence by weight."""
    passenger, subject = row.get("passenger") or {}, row.get("subject") or {}
    fields = list(dict.fromkeys([*passenger, *subject]))
    evidence = sorted((row.get("evidence") or {}).items(), key=lambda kv: -abs(kv[1] or 0))
    url = row.get("run_report_url")
    return {
        **row,
        "comparison": [(f, passenger.get(f), subject.get(f)) for f in fields],
        "evidence_rows": evidence,
        # Only web links become links; anything else (file:, javascript:) is shown as text.
        "report_link": url if url and urlsplit(url).scheme in ("http", "https") else None,
    }


@router.get("/reports/{name}")
async def report(request: Request, name: str) -> Response:
    """A model or run report the pipeline wrote (alerts link here), for logged-in reviewers:
    the reports hold the same personal data as the alerts."""
    if await _session(request) is None:
        return _to_login()
    folder = request.app.state.settings.report_dir
    path = Path(folder, name) if folder and _REPORT_NAME.fullmatch(name) else None
    if path is None or not path.is_file():
        return _page(request, "error.html", 404, message="There is no such report (yet): the day's run writes it.")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=_REPORT_HEADERS)
