"""Request and response bodies of the alerts API (the pydantic side of the contract)."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    AwareDatetime,
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

# The pipeline's client sends at most 200 alerts (and 2 MiB) per request, whatever its
# WATCHLIST_ALERT_BATCH_SIZE; a bigger request is refused with 413 before any work is done.
MAX_BATCH = 200
MAX_BODY_BYTES = 4 * 1024 * 1024
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
    # PostgreSQL text and jsonb cannot hold NUL, and a lone surrogate (an escaped \ud800)
    # cannot be encoded as UTF-8: refused here as a 422 naming the field, not by the
    # database or the response encoder as a 500. pydantic lets both through.
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "Text must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("text_surrogate", "Text must not contain lone surrogates") from None
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
# The contract bounds free text (offence, caution) at 2,000 characters; every value within
# it must be stored intact.
KeyValue = Annotated[StrictBool | StrictInt | Number | text(2000) | None, Field(union_mode="left_to_right")]
# A run of the pipeline: letters, digits and ._:+~- only, as it travels in URL paths.
RunId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:+~-]{1,128}$")]
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
    # Links to the run report's section of the alert: two ids of up to 128 characters,
    # percent-encoded, after the report's own URL.
    run_report_url: text(8192) | None = None


class Alert(AlertFields):
    """One alert as the pipeline sends it."""

    # A misspelt optional field would otherwise vanish silently.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AlertBatch(BaseModel):
    """A batch as documented. Each item is validated on its own (payloads.py): an item that
    is not an Alert is refused in the answer's `refusals`, and the others are stored."""

    model_config = ConfigDict(extra="forbid")

    alerts: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH,
                                       description="Alert objects (see Alert); each is accepted or refused on its own")]
    run_id: RunId | None = Field(default=None, description="the pipeline run sending the batch; "
                                 "POST /v1/days/{date}/runs/{run_id}/complete withdraws the day's alerts it did not send")
    run_planned_at: AwareDatetime | None = Field(
        default=None, description="when the run was planned: a day's runs are ordered by it (default: first heard of)")


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
ReviewStatus = Literal["new", "confirmed", "false_positive", "needs_info"]
# "withdrawn": a later run of the alert's day no longer supports it (its review status stays).
Status = Literal["new", "confirmed", "false_positive", "needs_info", "withdrawn"]
ReviewerName = text(100, min_length=1, strip=True)
Note = text(2000)


class AlertRecord(AlertFields):
    """A stored alert as reviewers read it."""

    alert_id: uuid.UUID
    received_at: dt.datetime
    status: Status = Field(description="'withdrawn' when a later run of the day no longer supports the alert, "
                           "else the review status")
    review_status: ReviewStatus = Field(description="the reviewers' latest decision ('new': none yet), kept on withdrawal")
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    run_id: str | None = Field(default=None, description="the pipeline run that last sent the alert")
    revision: int = Field(description="1 when first received; +1 per update or withdrawal (see /revisions)")
    updated_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None
    withdrawn_by_run: str | None = None
    withdrawn_by_model: str | None = None


class AlertRevision(BaseModel):
    """An earlier state of an alert, kept when a re-run updated or withdrew it."""

    alert_id: uuid.UUID
    revision: int
    superseded_at: dt.datetime
    superseded_by_run: str | None
    change: Literal["updated", "withdrawn"]
    record: dict[str, Any] = Field(description="the alert as it stood in this revision")


class RunCompletion(BaseModel):
    """POST /v1/days/{date}/runs/{run_id}/complete: batch `batch` of the run is delivered."""

    model_config = ConfigDict(extra="forbid")

    model_version: Identifier
    batches: Annotated[StrictInt, Field(ge=0, le=100_000, description="how many batches the run sends for the day")]
    batch: Annotated[StrictInt, Field(ge=0, lt=100_000)] | None = Field(
        default=None, description="the batch now delivered (none: only asks for the state)")
    planned_at: AwareDatetime | None = Field(
        default=None, description="when the run was planned: a day's runs are ordered by it (default: first heard of)")


class RunState(BaseModel):
    date: dt.date
    run_id: str
    model_version: str | None
    batches: int
    batches_done: int
    complete: bool
    superseded: bool = Field(description="a later run of the day exists: this one withdraws nothing")
    withdrawn: int = Field(description="alerts of the day this run withdrew")

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
    """Every 4xx/5xx: `detail` is a message, or for validation errors a list naming each
    field at fault (location, message and type; never the input itself)."""

    detail: str | list[dict[str, Any]]


class ItemResult(BaseModel):
    alert_id: uuid.UUID
    scan_id: str
    subject_id: str
    created: bool
    status: Literal["created", "updated", "duplicate"] = Field(
        description="updated: the pair existed and its content (model, probability, evidence...) changed, "
        "or it was withdrawn and is supported again")


class Refusal(BaseModel):
    """An item of a batch that was not stored, and why."""

    index: int
    scan_id: str | None
    subject_id: str | None
    reason: str
    errors: list[dict[str, Any]]


class IngestResult(BaseModel):
    received: int
    created: int
    updated: int = 0
    duplicates: int
    refused: int = 0
    results: list[ItemResult]
    refusals: list[Refusal] = []
