"""Plain-Python validation of one JSONL line: the reference the fast checks
(parse.py, tier 1) are tested against line by line. Both follow contract.py in the same
order and report the first problem only.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field, Kind
from watchlist_screening.normalise.rules import embedding_length, parse_date_time, parse_full_date

BOM = "\ufeff"
SHOWN_CHARS = 80   # values quoted in a detail are cut to this many characters
_UNPRINTABLE = re.compile(c.UNPRINTABLE_CLASS)
_PATTERNS: dict[str, re.Pattern] = {}
# A JSON string (an unterminated one is not matched: its quote is then just a character).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class Problem:
    reason: str
    detail: str


def _problem(reason: str, template: str, **values: Any) -> Problem:
    return Problem(reason, template.format(**values))


def _pattern(pattern: str) -> re.Pattern:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(c.python_pattern(pattern))
    return compiled


def shown(value: str) -> str:
    """A value as a detail quotes it: cut, and with control and bidi characters escaped
    (a detail is read on screens, and PostgreSQL text cannot hold NUL)."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value[:SHOWN_CHARS])


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in a line, outside its strings; exact for JSON,
    and a fixed number for anything else."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


def too_deep(text: str, openers: int | None = None) -> bool:
    """Whether a line nests beyond MAX_NESTING. `openers`, its count of '[' and '{' when
    known (batch_rows.py counts a whole batch at once), spares the usual line any look:
    fewer openers cannot nest deeper."""
    if openers is None:
        openers = text.count("[") + text.count("{")
    return openers > c.MAX_NESTING and nesting_depth(text) > c.MAX_NESTING


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Foreign:
    """A value of a typed file (Parquet) that JSON has no type for, named by its type
    (`got timestamp[us]`) where a line's value would be named by its JSON type."""
    type_name: str
    value: Any

    def __str__(self) -> str:
        return str(self.value)


def json_type(value: Any) -> str:
    if isinstance(value, Foreign):
        return value.type_name
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
    if too_deep(text):
        return None, Problem(c.TOO_DEEP, c.TOO_DEEP_DETAIL)
    try:
        value = json.loads(text, parse_constant=_reject_constant)
        # A \ud800-style escape decodes to a lone surrogate, which no UTF-8 column can hold.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:   # not expected below MAX_NESTING; never a failed day either way
        return None, Problem(c.TOO_DEEP, c.TOO_DEEP_DETAIL)
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
        return _aliases_problem(field, value, label)
    return _string_problem(field, value, label)


def _wrong_type(label: str, expected: str, value: Any) -> Problem:
    return _problem(c.WRONG_TYPE, c.WRONG_TYPE_DETAIL, label=label, expected=expected, got=json_type(value))


def _string_problem(field: Field, value: Any, label: str) -> Problem | None:
    if not isinstance(value, str):
        return _wrong_type(label, "a string", value)
    if field.kind is Kind.ID and value == "":
        return _problem(c.EMPTY_STRING, c.EMPTY_DETAIL, label=label)
    if field.cut_beyond_bound:
        return None   # kept whatever its length: see free_text
    if field.kind is Kind.STRING and "\x00" in value:
        # Names have no pattern in the contract, but the warehouse cannot store NUL, and
        # replacing it would alter a name silently (it used to become U+FFFD).
        return _problem(c.NUL_CHARACTER, c.NUL_DETAIL, label=label, position=value.index("\x00") + 1)
    if field.max_length is not None and len(value) > field.max_length:
        return _problem(c.TOO_LONG, c.TOO_LONG_DETAIL, label=label, length=len(value), limit=field.max_length)
    if field.pattern is not None and not _pattern(field.pattern).match(value):
        if field.pattern == c.PRINTABLE_PATTERN:
            found = _UNPRINTABLE.search(value)
            return _problem(c.BAD_PATTERN, c.PRINTABLE_DETAIL, label=label, code=ord(found.group()),
                            position=found.start() + 1)
        return _problem(c.BAD_PATTERN, c.PATTERN_DETAIL, label=label, pattern=field.pattern, value=shown(value))
    if field.kind is Kind.ENUM and value not in field.choices:
        return _problem(c.BAD_ENUM, c.ENUM_DETAIL, label=label, choices=", ".join(field.choices), value=shown(value))
    if field.kind is Kind.DATE and parse_full_date(value) is None:
        return _problem(c.BAD_DATE, c.DATE_DETAIL, label=label, value=shown(value))
    if field.kind is Kind.DATETIME and parse_date_time(value) is None:
        return _problem(c.BAD_DATETIME, c.DATETIME_DETAIL, label=label, value=shown(value))
    return None


def free_text(field: Field, value: str) -> tuple[str, list[Problem]]:
    """A cut_beyond_bound field's value as the warehouse keeps it, and the warnings: NUL
    replaced (U+FFFD), then cut at the bound. Both tiers keep free text through this."""
    warnings = []
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
        warnings.append(_problem(c.TEXT_CUT, c.TEXT_NUL_DETAIL, label=field.name))
    if len(value) > field.max_length:
        warnings.append(_problem(c.TEXT_CUT, c.TEXT_CUT_DETAIL, label=field.name, length=len(value),
                                 limit=field.max_length))
        value = value[:field.max_length]
    return value, warnings


def free_text_warnings(record: dict, fields: tuple[Field, ...]) -> tuple[dict, list[Problem]]:
    """A good line's record with its free text kept as the warehouse keeps it, and why."""
    warnings = []
    for field in fields:
        if field.cut_beyond_bound and isinstance(record.get(field.name), str):
            record[field.name], found = free_text(field, record[field.name])
            warnings += found
    return record, warnings


def placement_problem(airport: str, scanned_at: datetime, day: date | None, file_airport: str | None) -> Problem | None:
    """A good passenger line in the wrong file: its airport or its UTC day is not the
    file's (the contract's folder layout). None when the file's place is unknown."""
    if file_airport is not None and airport != file_airport:
        return _problem(c.WRONG_AIRPORT, c.WRONG_AIRPORT_DETAIL, got=shown(airport), file_airport=file_airport)
    if day is not None:
        got = scanned_at.astimezone(timezone.utc).date()
        if got != day:
            return _problem(c.WRONG_DAY, c.WRONG_DAY_DETAIL, got=got.isoformat(), day=day.isoformat())
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


def _aliases_problem(field: Field, value: Any, label: str) -> Problem | None:
    if not isinstance(value, list):
        return _wrong_type(label, "an array", value)
    if field.max_items is not None and len(value) > field.max_items:
        return _problem(c.TOO_LONG, c.TOO_MANY_DETAIL, label=label, count=len(value), limit=field.max_items)
    for index, alias in enumerate(value):
        alias_label = f"{label}[{index}]"
        if not isinstance(alias, dict):
            return _wrong_type(alias_label, "an object", alias)
        problem = first_problem(alias, c.ALIAS_FIELDS, prefix=alias_label + ".")
        if problem:
            return problem
    return None
