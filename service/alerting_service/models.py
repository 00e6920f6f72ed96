"""Request and response bodies of the alerts API (the pydantic side of the contract)."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
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


PassengerDay = Annotated[dt.date, BeforeValidator(_iso_day)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Airport = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Strict: a number sent as a string is a producer bug, not something to coerce.
Number = Annotated[float, Strict()]
Probability = Annotated[float, Strict(), Field(ge=0, le=1)]
Similarity = Annotated[float, Strict(), Field(ge=-1, le=1)]
GroupId = Annotated[str, BeforeValidator(_number_to_str), StringConstraints(min_length=1, max_length=200)]
Evidence = Annotated[dict[Annotated[str, StringConstraints(max_length=100)], Number | None], Field(max_length=64)]
KeyFields = Annotated[dict[Annotated[str, StringConstraints(max_length=100)], Any], Field(max_length=64)]


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
    run_report_url: Annotated[str, StringConstraints(max_length=2048)] | None = None


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


class AlertRecord(AlertFields):
    """A stored alert as reviewers read it."""

    alert_id: uuid.UUID
    received_at: dt.datetime


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
