"""Plain-Python validation of one JSONL line: the reference the fast checks
(parse.py, tier 1) are tested against line by line. Both follow contract.py in the same
order and report the first problem only.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field, Kind
from watchlist_screening.normalise.rules import embedding_length, parse_date_time, parse_full_date

BOM = "\ufeff"
SHOWN_CHARS = 80   # values quoted in a detail are cut to this many characters


@dataclass(frozen=True)
class Problem:
    reason: str
    detail: str


def _problem(reason: str, template: str, **values: Any) -> Problem:
    return Problem(reason, template.format(**values))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def json_type(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):   # before int: bool is an int in Python
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else "object"


def as_float(value: int | float) -> float:
    """JSON integers beyond the float range count as infinite, as they do in Spark."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def shown_number(value: int | float) -> str:
    """A number as details show it; the Spark side formats the same way."""
    value = as_float(value)
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def parse_line(raw: str) -> tuple[Any, Problem | None]:
    """The JSON value of a line (a leading BOM ignored), or why it is not JSON."""
    text = raw[1:] if raw.startswith(BOM) else raw
    try:
        value = json.loads(text, parse_constant=_reject_constant)
        # A \ud800-style escape decodes to a lone surrogate, which no UTF-8 column can hold.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return None, Problem(c.NOT_JSON, c.NOT_JSON_DETAIL)
    return value, None


def check_line(raw: str, fields: tuple[Field, ...]) -> tuple[dict | None, Problem | None]:
    """(the line's object, None) when it honours the contract, else (None, first problem)."""
    value, problem = parse_line(raw)
    if problem:
        return None, problem
    if not isinstance(value, dict):
        return None, _problem(c.NOT_OBJECT, c.NOT_OBJECT_DETAIL, got=json_type(value))
    problem = first_problem(value, fields)
    return (None, problem) if problem else (value, None)


def first_problem(record: dict, fields: tuple[Field, ...], prefix: str = "") -> Problem | None:
    for field in fields:
        problem = field_problem(field, field.name in record, record.get(field.name), prefix + field.name)
        if problem:
            return problem
    return None


def field_problem(field: Field, present: bool, value: Any, label: str) -> Problem | None:
    if not present or value is None:
        if not field.required:
            return None   # an optional field sent as null counts as absent
        return _problem(c.MISSING_FIELD, c.MISSING_DETAIL if not present else c.NULL_DETAIL, label=label)
    if field.kind is Kind.NUMBER:
        return _number_problem(field, value, label)
    if field.kind is Kind.EMBEDDING:
        return _embedding_problem(value, label)
    if field.kind is Kind.ALIASES:
        return _aliases_problem(value, label)
    return _string_problem(field, value, label)


def _wrong_type(label: str, expected: str, value: Any) -> Problem:
    return _problem(c.WRONG_TYPE, c.WRONG_TYPE_DETAIL, label=label, expected=expected, got=json_type(value))


def _string_problem(field: Field, value: Any, label: str) -> Problem | None:
    if not isinstance(value, str):
        return _wrong_type(label, "a string", value)
    shown = value[:SHOWN_CHARS]
    if field.kind is Kind.ID and value == "":
        return _problem(c.EMPTY_STRING, c.EMPTY_DETAIL, label=label)
    if field.kind is Kind.CODE and not (len(value) == 3 and value.isascii() and value.isupper() and value.isalpha()):
        return _problem(c.BAD_PATTERN, c.PATTERN_DETAIL, label=label, pattern=c.CODE_PATTERN, value=shown)
    if field.kind is Kind.ENUM and value not in field.choices:
        return _problem(c.BAD_ENUM, c.ENUM_DETAIL, label=label, choices=", ".join(field.choices), value=shown)
    if field.kind is Kind.DATE and parse_full_date(value) is None:
        return _problem(c.BAD_DATE, c.DATE_DETAIL, label=label, value=shown)
    if field.kind is Kind.DATETIME and parse_date_time(value) is None:
        return _problem(c.BAD_DATETIME, c.DATETIME_DETAIL, label=label, value=shown)
    return None


def _number_problem(field: Field, value: Any, label: str) -> Problem | None:
    if json_type(value) != "number":
        return _wrong_type(label, "a number", value)
    low, high = field.value_range
    if not low <= as_float(value) <= high:
        return _problem(c.OUT_OF_RANGE, c.RANGE_DETAIL, label=label, value=shown_number(value),
                        low=shown_number(low), high=shown_number(high))
    return None


def _embedding_problem(value: Any, label: str) -> Problem | None:
    if not isinstance(value, list):
        return _wrong_type(label, "an array", value)
    if len(value) != c.EMBEDDING_SIZE:
        return _problem(c.BAD_EMBEDDING, c.EMBEDDING_SIZE_DETAIL, label=label, size=len(value),
                        expected=c.EMBEDDING_SIZE)
    if any(json_type(x) != "number" or math.isinf(as_float(x)) for x in value):
        return _problem(c.BAD_EMBEDDING, c.EMBEDDING_VALUES_DETAIL, label=label)
    if not 0.0 < embedding_length([float(x) for x in value]) < math.inf:
        return _problem(c.BAD_EMBEDDING, c.EMBEDDING_ZERO_DETAIL, label=label)
    return None


def _aliases_problem(value: Any, label: str) -> Problem | None:
    if not isinstance(value, list):
        return _wrong_type(label, "an array", value)
    for index, alias in enumerate(value):
        alias_label = f"{label}[{index}]"
        if not isinstance(alias, dict):
            return _wrong_type(alias_label, "an object", alias)
        problem = first_problem(alias, c.ALIAS_FIELDS, prefix=alias_label + ".")
        if problem:
            return problem
    return None
