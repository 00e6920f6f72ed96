"""Request and response bodies of the alerts API (the pydantic side of the contract)."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StringConstraints,
    Tag,
)
from pydantic_core import PydanticCustomError

MAX_BATCH = 1000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: Any) -> Any:
    # pydantic would also take unix timestamps and datetimes; the contract says YYYY-MM-DD.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DAY.match(value):
        raise PydanticCustomError("date_format", "Input should be a date in the form YYYY-MM-DD")
    return value


def _number_to_str(value: Any) -> Any:
    # Cluster ids are often integers upstream; they are stored as text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _storable(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL: refused here as a 422 naming the field,
    # not by the database as a 500. (Lone surrogates pydantic refuses itself.)
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "Text must not contain NUL characters")
    return value


def text(max_length: int, min_length: int = 0, strip: bool = False) -> Any:
    constraints = StringConstraints(min_length=min_length, max_length=max_length, strip_whitespace=strip)
    return Annotated[str, constraints, AfterValidator(_storable)]


def _decimal_digits(value: Any) -> Any:
    # Lax parsing would read "1.0" or " 1" as 1; a query counter is written as digits.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise PydanticCustomError("int_digits", "Input should be a whole number written in digits")
    return value


PassengerDay = Annotated[dt.date, BeforeValidator(_iso_day)]
# Goes after Query(ge=..., le=...) in an Annotated: placed before, the bounds would not
# reach the OpenAPI document as minimum/maximum.
DigitsOnly = BeforeValidator(_decimal_digits)
Identifier = text(200, min_length=1)
Airport = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Strict: a number sent as a string is a producer bug, not something to coerce.
Number = Annotated[float, Strict()]
Probability = Annotated[float, Strict(), Field(ge=0, le=1)]
Similarity = Annotated[float, Strict(), Field(ge=-1, le=1)]
GroupId = Annotated[Identifier, BeforeValidator(_number_to_str)]
FieldName = text(100)
Evidence = Annotated[dict[FieldName, Number | None], Field(max_length=64)]
# Key fields are scalars (names, dates as text, heights): no nested documents to bloat a row.
KeyValue = Annotated[StrictBool | StrictInt | Number | text(1000) | None, Field(union_mode="left_to_right")]
KeyFields = Annotated[dict[FieldName, KeyValue], Field(max_length=64)]


class AlertFields(BaseModel):
    scan_id: Identifier
    subject_id: Identifier
    airport: Airport
    date: PassengerDay = Field(description="passenger day, the date of scanned_at")
    match_probability: Probability
    match_weight: Number
    model_version: Identifier
    photo_similarity: Similarity | None = None
    group_id: GroupId | None = None
    evidence: Evidence | None = Field(default=None, description="per-comparison match weights")
    passenger: KeyFields | None = Field(default=None, description="the passenger's key fields")
    subject: KeyFields | None = Field(default=None, description="the watchlist subject's key fields")
    run_report_url: text(2048) | None = None


class Alert(AlertFields):
    """One alert as the pipeline sends it."""

    # A misspelt optional field would otherwise vanish silently.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AlertBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alerts: Annotated[list[Alert], Field(min_length=1, max_length=MAX_BATCH)]


def _payload_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "alerts" in value else "alert"


# The discriminator picks the branch up front, so a 422 names the faulty field of that
# branch only (e.g. body.batch.alerts.3.match_probability) instead of both alternatives.
AlertPayload = Annotated[
    Union[Annotated[Alert, Tag("alert")], Annotated[AlertBatch, Tag("batch")]],
    Discriminator(_payload_kind),
]


Decision = Literal["confirmed", "false_positive", "needs_info"]
# "new" is the status of an alert nobody has decided on yet.
Status = Literal["new", "confirmed", "false_positive", "needs_info"]
ReviewerName = text(100, min_length=1, strip=True)
Note = text(2000)


class AlertRecord(AlertFields):
    """A stored alert as reviewers read it."""

    alert_id: uuid.UUID
    received_at: dt.datetime
    status: Status
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None


class ReviewDecision(BaseModel):
    """A reviewer's decision on one alert (PATCH /v1/alerts/{id})."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reviewer: ReviewerName = Field(description="who decided (a person, not a token)")
    note: Note | None = None


class ReviewRecord(BaseModel):
    """One entry of an alert's append-only audit trail."""

    review_id: int
    alert_id: uuid.UUID
    decision: Decision
    previous_status: Status
    reviewer: str
    credential_id: str = Field(description="hash prefix of the token used, never the token")
    note: str | None
    decided_at: dt.datetime


class ReviewLabel(BaseModel):
    """A decision as a training label: the pair, what the model said, what the reviewer said."""

    review_id: int = Field(description="cursor: pass the last one seen as ?since=")
    alert_id: uuid.UUID
    scan_id: str
    subject_id: str
    date: dt.date
    airport: str
    model_version: str
    match_probability: float
    match_weight: float
    decision: Decision
    decided_at: dt.datetime


class ErrorBody(BaseModel):
    """Every 4xx/5xx: `detail` is a message, or for validation errors a list naming each field at fault."""

    detail: str | list[dict[str, Any]]


class ItemResult(BaseModel):
    alert_id: uuid.UUID
    scan_id: str
    subject_id: str
    created: bool
    status: Literal["created", "duplicate"]


class IngestResult(BaseModel):
    received: int
    created: int
    duplicates: int
    results: list[ItemResult]
