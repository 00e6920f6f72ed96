"""Pure functions from match rows to the alerting service's payload (no I/O)."""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

# Key fields a reviewer needs to judge a match; the face embedding is deliberately absent
# (biometric data, and 128 numbers nobody reads).
PASSENGER_FIELDS = (
    "given_names", "surname", "date_of_birth", "place_of_birth", "nationality", "sex", "height_cm",
    "eye_colour", "document_number", "issuing_country", "flight_number", "direction", "scanned_at",
)
SUBJECT_FIELDS = (
    "given_names", "surname", "date_of_birth", "place_of_birth", "nationality", "sex", "height_cm",
    "eye_colour", "offence", "caution", "listed_on",
)
# In the encoded mode (issue 17) the warehouse holds no name, date or document: an alert
# carries ids, scores, evidence and the clear fields the edge encoder keeps.
ENCODED_PASSENGER_FIELDS = ("sex", "height_cm", "eye_colour", "direction", "scanned_at")
ENCODED_SUBJECT_FIELDS = ("sex", "height_cm", "eye_colour")


def key_fields(privacy_mode: str = "clear") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(passenger fields, subject fields) an alert of a day screened in `privacy_mode` carries."""
    if privacy_mode == "encoded":
        return ENCODED_PASSENGER_FIELDS, ENCODED_SUBJECT_FIELDS
    return PASSENGER_FIELDS, SUBJECT_FIELDS


_REQUIRED = ("scan_id", "subject_id", "airport", "scan_day", "match_probability", "match_weight", "model_version")


def build_alert(row: Mapping[str, Any], *, run_report_url: str | None = None,
                privacy_mode: str = "clear") -> dict[str, Any]:
    """The alert for one match row.

    `row` holds scan_id, subject_id, airport, scan_day, match_probability, match_weight,
    model_version and optionally photo_similarity, group_id, evidence (dict or JSON text of
    per-comparison match weights), and the people's key fields as `passenger_<field>` and
    `subject_<field>` (see PASSENGER_FIELDS / SUBJECT_FIELDS); absent or null fields are left out,
    and in the encoded `privacy_mode` every field but key_fields' own.
    """
    missing = [k for k in _REQUIRED if row.get(k) is None]
    if missing:
        raise ValueError(f"match row lacks {', '.join(missing)}")
    alert: dict[str, Any] = {
        "scan_id": str(row["scan_id"]),
        "subject_id": str(row["subject_id"]),
        "airport": str(row["airport"]),
        "date": _day(row["scan_day"]),
        "match_probability": float(row["match_probability"]),
        "match_weight": float(row["match_weight"]),
        "model_version": str(row["model_version"]),
    }
    if row.get("photo_similarity") is not None:
        alert["photo_similarity"] = float(row["photo_similarity"])
    if row.get("group_id") is not None:
        alert["group_id"] = str(row["group_id"])
    evidence = row.get("evidence")
    if isinstance(evidence, (str, bytes)):
        evidence = json.loads(evidence)
    if evidence:
        alert["evidence"] = {str(k): None if v is None else float(v) for k, v in evidence.items()}
    for prefix, fields in zip(("passenger", "subject"), key_fields(privacy_mode)):
        values = {f: _jsonable(row[f"{prefix}_{f}"]) for f in fields if row.get(f"{prefix}_{f}") is not None}
        if values:
            alert[prefix] = values
    if run_report_url:
        alert["run_report_url"] = run_report_url
    return alert


def batch_idempotency_key(day: dt.date | str, batch_index: int, alerts: Sequence[Mapping[str, Any]],
                          run_id: str | None = None) -> str:
    """A key that is the same exactly when the batch is the same.

    It hashes the whole payload, not only the (scan_id, subject_id) pairs: a re-run that
    sends the same pairs with new content (another model version, another report URL)
    gets a new key and is answered pair by pair as duplicates, instead of being refused
    as "same key, different payload". A task retry resends identical bytes and replays.
    The run is part of the request, so part of the key too.
    """
    content: Any = list(alerts) if run_id is None else {"alerts": list(alerts), "run_id": run_id}
    # allow_nan: a NaN alert is refused alone by the client, not by failing the key.
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    return f"alerts-{_day(day)}-{batch_index:05d}-{digest}"


def _day(value: dt.date | str) -> str:
    if isinstance(value, dt.datetime):  # e.g. a pandas Timestamp at midnight
        value = value.date()
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):  # datetime is a date subclass
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "item") and callable(value.item):  # numpy/pandas scalars
        return value.item()
    return value
