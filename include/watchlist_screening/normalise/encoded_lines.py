"""One line of an encoded landing zone (issue 17, the edge encoder's format
`watchlist-pprl/1`, /tmp/me/pprl-spec.md → docs/encoded-contract/): is it good, and if
not, the first problem, named like the clear contract's (validate.py) where the field is
the same.

Encoded lines are few enough per day (100k) that one checker does: no fast tier in front.
The clear fields (ids, airport, times, sex, height, eye colour) are checked by the clear
contract's own rules, so the two modes quarantine them alike. A line that carries a clear
identity field is refused, and its raw text keeps that field's value withheld: in this
mode the warehouse must not hold a name or a date, not even in the quarantine.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field, Kind
from watchlist_screening.normalise.rules import parse_date_time
from watchlist_screening.normalise.validate import Problem, field_problem, json_type, parse_line, shown

ENCODING = "watchlist-pprl/1"
CLK_BYTES = 128                     # 1024-bit keyed Bloom filters
CLK_CHARACTERS = 172                # standard base64 of 128 bytes, padded
MAX_NAME_CLKS = 1 + c.ALIASES_MAX_ITEMS   # the primary name and every alias

# Quarantine reasons of this mode (the clear contract's codes otherwise).
WRONG_ENCODING = "wrong_encoding"
CLEAR_FIELD_PRESENT = "clear_field_present"
BAD_CLK = "bad_clk"
CLK_LISTS_DIFFER = "clk_lists_differ"

WRONG_ENCODING_DETAIL = "field 'encoding' must be '{expected}', got {got}"
CLEAR_FIELD_DETAIL = ("field '{label}' is a clear identity field, which an encoded line must not carry "
                      "(its value is withheld from the quarantine)")
BAD_CLK_DETAIL = "field '{label}' must be standard base64 of {size} bytes (a 1024-bit CLK): {problem}"
CLK_LISTS_DETAIL = "field '{label}' has {count} items, 'name_clks' {names}: one per listed name, in the same order"
WITHHELD = "<withheld: clear identity field>"
WITHHELD_LINE = "<withheld: the line is not JSON and names a clear identity field>"

# What the encoder leaves out: present, the edge let a clear identity through.
PASSENGER_CLEAR_FIELDS = ("given_names", "surname", "date_of_birth", "place_of_birth", "nationality",
                          "document_number", "issuing_country", "flight_number", "face_embedding")
WATCHLIST_CLEAR_FIELDS = ("given_names", "surname", "aliases", "date_of_birth", "place_of_birth", "nationality",
                          "face_embedding", "offence", "caution")
_ANY_CLEAR_KEY = re.compile(r'"(%s)"\s*:' % "|".join(sorted(set(PASSENGER_CLEAR_FIELDS + WATCHLIST_CLEAR_FIELDS))))


def _clear_field(name: str) -> Field:
    for field in (*c.PASSENGER_FIELDS, *c.WATCHLIST_FIELDS):
        if field.name == name:
            return field
    raise KeyError(name)


@dataclass(frozen=True)
class EncodedField:
    name: str
    check: Callable[[bool, Any, str], Problem | None]


def _clear(name: str, required: bool | None = None) -> EncodedField:
    field = _clear_field(name)
    if required is not None:
        field = Field(field.name, field.kind, required, field.choices, field.value_range, field.max_length,
                      field.pattern, field.max_items)
    return EncodedField(name, lambda present, value, label: field_problem(field, present, value, label))


def clk_problem(value: Any, label: str) -> Problem | None:
    """Why `value` is not a CLK (standard base64 of 128 bytes), else None."""
    if not isinstance(value, str):
        return Problem(c.WRONG_TYPE, c.WRONG_TYPE_DETAIL.format(label=label, expected="a string", got=json_type(value)))
    if len(value) != CLK_CHARACTERS:
        problem = f"{len(value)} characters, expected {CLK_CHARACTERS}"
    else:
        try:
            size = len(base64.b64decode(value, validate=True))
            problem = None if size == CLK_BYTES else f"{size} bytes"
        except (binascii.Error, ValueError):
            problem = f"not base64: '{shown(value)}'"
    if problem is None:
        return None
    return Problem(BAD_CLK, BAD_CLK_DETAIL.format(label=label, size=CLK_BYTES, problem=problem))


def _missing(present: bool, label: str) -> Problem:
    return Problem(c.MISSING_FIELD, (c.MISSING_DETAIL if not present else c.NULL_DETAIL).format(label=label))


def _clk(name: str, required: bool) -> EncodedField:
    def check(present: bool, value: Any, label: str) -> Problem | None:
        if not present or value is None:
            return _missing(present, label) if required else None
        return clk_problem(value, label)

    return EncodedField(name, check)


def _clk_list(name: str, required: bool = True) -> EncodedField:
    """A list of CLKs, one per listed name (or date), null where that one has none."""
    def check(present: bool, value: Any, label: str) -> Problem | None:
        if not present or value is None:
            return _missing(present, label) if required else None
        if not isinstance(value, list):
            return Problem(c.WRONG_TYPE, c.WRONG_TYPE_DETAIL.format(label=label, expected="an array",
                                                                    got=json_type(value)))
        if not value:
            return Problem(c.MISSING_FIELD, c.EMPTY_DETAIL.format(label=label))
        if len(value) > MAX_NAME_CLKS:
            return Problem(c.TOO_LONG, c.TOO_MANY_DETAIL.format(label=label, count=len(value), limit=MAX_NAME_CLKS))
        for index, item in enumerate(value):
            problem = None if item is None else clk_problem(item, f"{label}[{index}]")
            if problem:
                return problem
        return None

    return EncodedField(name, check)


_TEMPLATE = Field("face_template", Kind.EMBEDDING, required=True, max_items=c.EMBEDDING_SIZE)
TEMPLATE = EncodedField("face_template", lambda present, value, label: field_problem(_TEMPLATE, present, value, label))

# In the order of the encoder's interface: the first failing rule names the problem.
PASSENGER_FIELDS: tuple[EncodedField, ...] = (
    _clear("scan_id"), _clear("airport"), _clear("scanned_at"), _clear("direction"),
    # null when the clear field was empty or absent (the encoder's interface)
    _clk("name_clk", False), _clk("surname_clk", False), _clk("dob_clk", False),
    _clk("place_of_birth_clk", False), _clk("nationality_clk", False),
    _clear("sex"), _clear("height_cm"), _clear("eye_colour"), TEMPLATE,
)
WATCHLIST_FIELDS: tuple[EncodedField, ...] = (
    _clear("subject_id"), _clear("listed_on"), _clear("sex"), _clear("height_cm"), _clear("eye_colour"),
    _clk_list("name_clks"), _clk_list("surname_clks"),
    _clk("dob_clk", False), _clk_list("dob_clks", required=False),
    _clk("place_of_birth_clk", False), _clk("nationality_clk", False), TEMPLATE,
)
# listed in the same order as name_clks (primary, then each alias)
_ALIGNED = ("surname_clks", "dob_clks")


@dataclass(frozen=True)
class EncodedSchema:
    """What a good encoded line of one dataset holds and must not hold."""
    fields: tuple[EncodedField, ...]
    clear_fields: tuple[str, ...]


PASSENGERS = EncodedSchema(PASSENGER_FIELDS, PASSENGER_CLEAR_FIELDS)
WATCHLIST = EncodedSchema(WATCHLIST_FIELDS, WATCHLIST_CLEAR_FIELDS)


def check_record(record: dict, schema: EncodedSchema) -> Problem | None:
    """The first problem of a decoded line, None when it honours the encoded interface."""
    for name in schema.clear_fields:
        if name in record:
            return Problem(CLEAR_FIELD_PRESENT, CLEAR_FIELD_DETAIL.format(label=name))
    encoding = record.get("encoding")
    if encoding != ENCODING:
        if "encoding" not in record or encoding is None:
            return _missing("encoding" in record, "encoding")
        got = f"'{shown(encoding)}'" if isinstance(encoding, str) else json_type(encoding)
        return Problem(WRONG_ENCODING, WRONG_ENCODING_DETAIL.format(expected=ENCODING, got=got))
    for field in schema.fields:
        problem = field.check(field.name in record, record.get(field.name), field.name)
        if problem:
            return problem
    for name in _ALIGNED if "name_clks" in record else ():
        if record.get(name) is not None and len(record[name]) != len(record["name_clks"]):
            return Problem(CLK_LISTS_DIFFER, CLK_LISTS_DETAIL.format(label=name, names=len(record["name_clks"]),
                                                                     count=len(record[name])))
    return None


def check_line(text: str, schema: EncodedSchema) -> tuple[dict | None, Problem | None]:
    """(the line's object with scanned_at as a datetime, None) when good, else (None, problem)."""
    value, problem = parse_line(text)
    if problem:
        return None, problem
    if not isinstance(value, dict):
        return None, Problem(c.NOT_OBJECT, c.NOT_OBJECT_DETAIL.format(got=json_type(value)))
    problem = check_record(value, schema)
    if problem:
        return None, problem
    if value.get("scanned_at") is not None:
        value["scanned_at"] = parse_date_time(value["scanned_at"])
    return value, None


def withheld(raw: str | None) -> str | None:
    """A bad line's text as the quarantine may keep it in this mode: the values of clear
    identity fields replaced, and a line that is not JSON but names one withheld whole
    (its values cannot be told apart from the rest)."""
    if raw is None or not _ANY_CLEAR_KEY.search(raw):
        return raw
    try:
        value = json.loads(raw[1:] if raw.startswith("\ufeff") else raw)
    except (ValueError, RecursionError):
        return WITHHELD_LINE
    if not isinstance(value, dict):
        return WITHHELD_LINE
    clear = set(PASSENGER_CLEAR_FIELDS) | set(WATCHLIST_CLEAR_FIELDS)
    return json.dumps({k: (WITHHELD if k in clear else v) for k, v in value.items()}, ensure_ascii=False)
