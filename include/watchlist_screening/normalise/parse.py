"""Tier 1 of line validation: msgspec decodes a line straight into typed values when it
honours the contract, and gives up on anything else.

Nearly every line is good, and naming a problem costs far more than confirming there is
none, so tier 1 only has to be fast and never let a bad line through; it may leave an odd
good line to tier 2 (validate.check_line, the reference), which then decides and names
the first problem. msgspec parses in C about ten times faster than Spark's from_json
with the checks the contract needs (measured on the bench data), and it is strict where
the contract is: no NaN, no trailing data, no bool for a number, real calendar dates.

Where msgspec is more lenient than the contract, the type is narrowed: date-times are
taken as text matching the reference pattern and converted as the reference does (msgspec
would accept a space for the 'T'); embeddings are checked for a finite, non-zero length
by the caller on the whole batch (batch_rows.py), with the reference's arithmetic.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field, Kind
from watchlist_screening.normalise.rules import DATE_TIME_PATTERN, date_time_of_pattern
from watchlist_screening.normalise.validate import BOM, too_deep

_DATE_TIME_TEXT = Annotated[str, msgspec.Meta(pattern=rf"\A{DATE_TIME_PATTERN}\Z")]


def _string(field: Field) -> Any:
    """str with the field's bounds; msgspec counts characters as JSON Schema does, and
    matches patterns with re.search, so they are anchored with \\A...\\Z."""
    meta = {}
    if field.kind is Kind.ID:
        meta["min_length"] = 1
    if field.max_length is not None and not field.cut_beyond_bound:
        meta["max_length"] = field.max_length
    if field.pattern is not None:
        meta["pattern"] = c.python_pattern(field.pattern)
    return Annotated[str, msgspec.Meta(**meta)] if meta else str


def _value_type(field: Field) -> Any:
    kind = field.kind
    if kind in (Kind.ID, Kind.STRING, Kind.CODE):
        return _string(field)
    if kind is Kind.ENUM:
        return Literal[field.choices]
    if kind is Kind.DATE:
        return dt.date            # RFC 3339 full-date, real calendar days only
    if kind is Kind.DATETIME:
        return _DATE_TIME_TEXT
    if kind is Kind.NUMBER:
        low, high = field.value_range
        return Annotated[float, msgspec.Meta(ge=low, le=high)]
    if kind is Kind.EMBEDDING:
        return Annotated[list[float], msgspec.Meta(min_length=c.EMBEDDING_SIZE, max_length=c.EMBEDDING_SIZE)]
    # Aliases stay raw: the watchlist keeps their JSON as given (jsonb) and decodes them
    # once more with ALIAS_DECODER.
    return msgspec.Raw


def record_type(name: str, fields: tuple[Field, ...]) -> type[msgspec.Struct]:
    """A Struct with one attribute per contract field; an optional field sent as null
    counts as absent (None), as in the contract."""
    specs = []
    for field in fields:
        value_type = _value_type(field)
        if field.kind is Kind.ALIASES:
            specs.append((field.name, value_type, None))   # Raw takes no union: null is b"null"
        elif field.required:
            specs.append((field.name, value_type))
        else:
            specs.append((field.name, value_type | None, None))
    return msgspec.defstruct(name, specs, kw_only=True)


PassengerRecord = record_type("PassengerRecord", c.PASSENGER_FIELDS)
WatchlistRecord = record_type("WatchlistRecord", c.WATCHLIST_FIELDS)
AliasRecord = record_type("AliasRecord", c.ALIAS_FIELDS)
_ALIASES = next(f for f in c.WATCHLIST_FIELDS if f.kind is Kind.ALIASES)
ALIAS_DECODER = msgspec.json.Decoder(Annotated[list[AliasRecord], msgspec.Meta(max_length=_ALIASES.max_items)])


def _nul_free(fields: tuple[Field, ...]) -> list[str]:
    """The fields that must not hold NUL (names: see validate.py); free text may, as it is
    kept (with NUL replaced) whatever it holds."""
    return [f.name for f in fields if f.kind is Kind.STRING and not f.cut_beyond_bound]


_ALIAS_NAMES = _nul_free(c.ALIAS_FIELDS)


def _holds_nul(record: msgspec.Struct, names: list[str]) -> bool:
    # A few short strings per line: cheaper than searching the whole line for the escape.
    for name in names:
        value = getattr(record, name)
        if value is not None and "\x00" in value:
            return True
    return False


class Tier1:
    """Decodes lines of one dataset; `decode` returns None for anything tier 2 must judge."""

    def __init__(self, record: type[msgspec.Struct], fields: tuple[Field, ...]) -> None:
        self._args = (record, fields)
        self._decoder = msgspec.json.Decoder(record)
        self._date_times = [f.name for f in fields if f.kind is Kind.DATETIME]
        self._aliases = [f.name for f in fields if f.kind is Kind.ALIASES]
        self._nul_free = _nul_free(fields)

    def __reduce__(self):
        # Decoders cannot be pickled: Spark ships the recipe to its Python workers.
        return Tier1, self._args

    def decode(self, text: str, openers: int | None = None) -> msgspec.Struct | None:
        """`openers`: the line's count of '[' and '{', if known (validate.too_deep)."""
        if text.startswith(BOM):
            text = text[1:]
        # msgspec's RecursionError comes at a depth that depends on the caller's stack;
        # a fixed bound makes both tiers agree on every line.
        if too_deep(text, openers):
            return None
        try:
            record = self._decoder.decode(text)
            for name in self._aliases:
                raw = getattr(record, name)
                if raw is None or bytes(raw) == b"null":   # a null alias list counts as absent
                    setattr(record, name, None)
                else:
                    setattr(record, name, (bytes(raw).decode(), ALIAS_DECODER.decode(raw)))
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None
        if _holds_nul(record, self._nul_free):
            return None
        for name in self._aliases:
            aliases = getattr(record, name)
            if aliases is not None and any(_holds_nul(alias, _ALIAS_NAMES) for alias in aliases[1]):
                return None
        for name in self._date_times:
            text = getattr(record, name)
            if text is not None:
                value = date_time_of_pattern(text)   # msgspec checked the pattern
                if value is None:
                    return None
                setattr(record, name, value)
        return record


PASSENGER_TIER1 = Tier1(PassengerRecord, c.PASSENGER_FIELDS)
WATCHLIST_TIER1 = Tier1(WatchlistRecord, c.WATCHLIST_FIELDS)
