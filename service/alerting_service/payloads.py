"""POST /v1/alerts bodies: bounded reading, strict JSON, validation alert by alert, and error
details that never carry the input back.

The body is parsed here rather than by FastAPI so that (1) a body over the limit is refused
before it is read whole, (2) the parsing and validation run in a worker thread, not on the
event loop that answers /readyz, and (3) one bad alert of a batch refuses that alert only.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from alerting_service.models import MAX_BATCH, Alert, AlertBatch

# Error details name the place and the kind of fault only: inputs can be megabytes long,
# or hold values (NaN, lone surrogates) that no JSON encoder writes.
MAX_ERRORS = 20
_MAX_LOC_PART = 64
_MAX_MSG = 200
_MAX_ID = 200
# The contract's numbers are heights, probabilities and weights: no integer needs more.
_MAX_INT_DIGITS = 30


class BodyRefused(Exception):
    """The request as a whole cannot be taken: `status` and `detail` for the answer."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]]):
        super().__init__(detail if isinstance(detail, str) else "invalid body")
        self.status = status
        self.detail = detail


@dataclass
class ParsedAlerts:
    kind: str  # "alert" (one alert object) or "batch" ({"alerts": [...]})
    received: int
    valid: list[tuple[int, Alert]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    run_planned_at: Any = None
    fingerprint: str = ""


def printable(value: Any, limit: int) -> str:
    """A short, always-encodable rendering of a value for an error message."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_errors(errors: list[dict[str, Any]], prefix: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Validation errors as location, message and type; the input is never echoed.

    Locations can hold client-chosen dictionary keys, so their parts are cut short too.
    """
    out = []
    for error in errors[:MAX_ERRORS]:
        loc = [*prefix, *error.get("loc", ())]
        out.append({
            "loc": [part if isinstance(part, int) else printable(part, _MAX_LOC_PART) for part in loc],
            "msg": printable(str(error.get("msg", "")), _MAX_MSG),
            "type": printable(str(error.get("type", "")), _MAX_LOC_PART),
        })
    if len(errors) > MAX_ERRORS:
        out.append({"loc": list(prefix), "msg": f"{len(errors) - MAX_ERRORS} more error(s) not shown",
                    "type": "too_many_errors"})
    return out


async def read_body(chunks: AsyncIterator[bytes], declared_length: str | None, limit: int) -> bytes:
    """The request body, or BodyRefused(413) as soon as it is known to exceed `limit`."""
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise BodyRefused(400, "malformed Content-Length") from None
        if declared > limit:
            raise BodyRefused(413, f"request body over {limit} bytes; send at most {MAX_BATCH} alerts per request")
    body, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyRefused(413, f"request body over {limit} bytes; send at most {MAX_BATCH} alerts per request")
        body.append(chunk)
    return b"".join(body)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError("number out of range")
    return int(text)


def load_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity, no number that overflows a double."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRefused(422, [{"loc": ["body"], "msg": "Body is not UTF-8", "type": "json_invalid"}]) from None
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        raise BodyRefused(422, [{"loc": ["body"], "msg": "JSON nested too deeply", "type": "json_invalid"}]) from None
    except json.JSONDecodeError as exc:
        # exc.msg is the decoder's fixed text ("Expecting value"), not the input.
        raise BodyRefused(422, [{"loc": ["body", exc.pos], "msg": f"JSON decode error: {exc.msg}",
                                 "type": "json_invalid"}]) from None
    except ValueError as exc:  # ours above, or Python's own limit on integer digits
        raise BodyRefused(422, [{"loc": ["body"], "msg": printable(f"Invalid JSON: {exc}", _MAX_MSG),
                                 "type": "json_invalid"}]) from None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _refusal(index: int, item: Any, exc: ValidationError) -> dict[str, Any]:
    errors = safe_errors(exc.errors(include_url=False, include_context=False, include_input=False))
    ids = {k: printable(item[k], _MAX_ID) if isinstance(item, dict) and isinstance(item.get(k), str) else None
           for k in ("scan_id", "subject_id")}
    reason = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'alert'}: {e['msg']}" for e in errors[:3])
    return {"index": index, **ids, "reason": printable(reason, 500), "errors": errors}


def parse_alerts(raw: bytes) -> ParsedAlerts:
    """Parse and validate a POST /v1/alerts body (CPU work: call it off the event loop).

    A single alert object must be valid as a whole (422 otherwise). A batch is checked for
    its length and shape (422), then alert by alert: valid alerts in `valid`, the
    others in `refusals` with their reasons.
    """
    return validate_payload(load_json(raw))


def validate_payload(data: Any) -> ParsedAlerts:
    """`parse_alerts` for a payload already decoded (JSON, or a gRPC request as the same
    dict): the one validation both APIs apply, alert by alert."""
    if not (isinstance(data, dict) and "alerts" in data):
        try:
            alert = Alert.model_validate(data)
        except ValidationError as exc:
            raise BodyRefused(422, safe_errors(exc.errors(include_url=False, include_context=False,
                                                          include_input=False), ("body", "alert"))) from None
        parsed = ParsedAlerts("alert", 1, valid=[(0, alert)])
        parsed.fingerprint = hashlib.sha256(_canonical(alert.model_dump(mode="json")).encode()).hexdigest()
        return parsed

    items = data["alerts"]
    if isinstance(items, list) and len(items) > MAX_BATCH:
        # Counted before any alert is validated (the body's size had its 413 earlier).
        raise BodyRefused(422, [{"loc": ["body", "batch", "alerts"], "type": "too_long",
                                 "msg": f"{len(items)} alerts in one request; send at most {MAX_BATCH}"}])
    try:
        # The batch's shape (a list of objects, 1..MAX_BATCH, run_id, no other keys).
        batch = AlertBatch.model_validate(data)
    except ValidationError as exc:
        raise BodyRefused(422, safe_errors(exc.errors(include_url=False, include_context=False,
                                                      include_input=False), ("body", "batch"))) from None
    parsed = ParsedAlerts("batch", len(batch.alerts), run_id=batch.run_id, run_planned_at=batch.run_planned_at)
    canonical: list[Any] = []
    for index, item in enumerate(batch.alerts):
        try:
            alert = Alert.model_validate(item)
        except ValidationError as exc:
            parsed.refusals.append(_refusal(index, item, exc))
            canonical.append(item)
        else:
            parsed.valid.append((index, alert))
            canonical.append(alert.model_dump(mode="json"))
    # Same request again = same validated content: key order, whitespace and number spelling
    # (1 vs 1.0) of a retry do not make it look like another request.
    parsed.fingerprint = hashlib.sha256(
        _canonical({"alerts": canonical, "run_id": batch.run_id, "run_planned_at": batch.run_planned_at
                    and batch.run_planned_at.isoformat()}).encode("utf-8", "backslashreplace")
    ).hexdigest()
    return parsed
