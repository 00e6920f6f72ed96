"""The input contract of one JSONL line, as data both validators are built from.

Mirrors /shared/contract/{passenger,watchlist}.schema.json (a unit test holds the two in
step). validate.py applies the rules in this order and names the first problem of a line;
parse.py (msgspec, tier 1) applies the same rules as types to decide which lines are good.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

EMBEDDING_SIZE = 128
CODE_PATTERN = "^[A-Z]{3}$"
SEXES = ("F", "M", "X")
EYE_COLOURS = ("amber", "blue", "brown", "green", "grey", "hazel", "other")
DIRECTIONS = ("arrival", "departure")
HEIGHT_RANGE_CM = (50, 260)


class Kind(Enum):
    STRING = "string"
    ID = "id"                  # a string that must not be empty
    CODE = "code"              # a string matching CODE_PATTERN
    ENUM = "enum"
    DATE = "date"              # RFC 3339 full-date, YYYY-MM-DD
    DATETIME = "datetime"      # RFC 3339 date-time with offset
    NUMBER = "number"
    EMBEDDING = "embedding"    # EMBEDDING_SIZE finite numbers
    ALIASES = "aliases"        # array of {given_names, surname, date_of_birth?}


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None


# Reason codes of quarantine rows (warehouse.quarantine.reason).
NOT_UTF8 = "not_utf8"
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
EMPTY_STRING = "empty_string"
BAD_PATTERN = "bad_pattern"
BAD_ENUM = "bad_enum"
BAD_DATE = "bad_date"
BAD_DATETIME = "bad_datetime"
OUT_OF_RANGE = "out_of_range"
BAD_EMBEDDING = "bad_embedding"
TRUNCATED_GZIP = "truncated_gzip"
CORRUPT_GZIP = "corrupt_gzip"
DUPLICATE_SCAN_ID = "duplicate_scan_id"
DUPLICATE_SUBJECT_ID = "duplicate_subject_id"
CHECK_DISAGREEMENT = "check_disagreement"   # a bug, never a data problem: see finish.py

NOT_JSON_DETAIL = "line is not valid JSON (truncated?)"
NOT_OBJECT_DETAIL = "line is JSON but not an object, got {got}"
NOT_UTF8_DETAIL = "line is not valid UTF-8"

_HEIGHT = Field("height_cm", Kind.NUMBER, required=True, value_range=HEIGHT_RANGE_CM)
_SEX = Field("sex", Kind.ENUM, required=True, choices=SEXES)
_EYES = Field("eye_colour", Kind.ENUM, required=True, choices=EYE_COLOURS)
_EMBEDDING = Field("face_embedding", Kind.EMBEDDING, required=True)

# In the order of the JSON Schemas' properties: the first failing rule names the problem.
PASSENGER_FIELDS: tuple[Field, ...] = (
    Field("scan_id", Kind.ID, required=True),
    Field("airport", Kind.CODE, required=True),
    Field("scanned_at", Kind.DATETIME, required=True),
    Field("direction", Kind.ENUM, choices=DIRECTIONS),
    Field("flight_number", Kind.STRING),
    Field("document_number", Kind.STRING),
    Field("issuing_country", Kind.CODE),
    Field("given_names", Kind.STRING, required=True),
    Field("surname", Kind.STRING, required=True),
    Field("date_of_birth", Kind.DATE, required=True),
    Field("place_of_birth", Kind.STRING),
    Field("nationality", Kind.CODE),
    _SEX,
    _HEIGHT,
    _EYES,
    _EMBEDDING,
)

WATCHLIST_FIELDS: tuple[Field, ...] = (
    Field("subject_id", Kind.ID, required=True),
    Field("given_names", Kind.STRING, required=True),
    Field("surname", Kind.STRING, required=True),
    Field("aliases", Kind.ALIASES),
    Field("date_of_birth", Kind.DATE),
    Field("place_of_birth", Kind.STRING),
    Field("nationality", Kind.CODE),
    _SEX,
    _HEIGHT,
    _EYES,
    _EMBEDDING,
    Field("offence", Kind.STRING),
    Field("caution", Kind.STRING),
    Field("listed_on", Kind.DATE),
)

ALIAS_FIELDS: tuple[Field, ...] = (
    Field("given_names", Kind.STRING, required=True),
    Field("surname", Kind.STRING, required=True),
    Field("date_of_birth", Kind.DATE),
)


# Detail templates shared by both validators (filled with str.format in Python and with
# column concatenation in Spark), so their details match to the character.
MISSING_DETAIL = "required field '{label}' is missing"
NULL_DETAIL = "required field '{label}' is null"
WRONG_TYPE_DETAIL = "field '{label}' must be {expected}, got {got}"
EMPTY_DETAIL = "field '{label}' must not be empty"
PATTERN_DETAIL = "field '{label}' must match {pattern}, got '{value}'"
ENUM_DETAIL = "field '{label}' must be one of {choices}, got '{value}'"
DATE_DETAIL = "field '{label}' is not a valid YYYY-MM-DD date: '{value}'"
DATETIME_DETAIL = "field '{label}' is not a valid RFC 3339 date-time: '{value}'"
RANGE_DETAIL = "field '{label}' is {value}, outside {low}..{high}"
EMBEDDING_SIZE_DETAIL = "field '{label}' has {size} values, expected {expected}"
EMBEDDING_VALUES_DETAIL = "field '{label}' contains a non-finite or non-number value"
EMBEDDING_ZERO_DETAIL = "field '{label}' cannot be scaled to unit length (all zeros or too large)"
DUPLICATE_DETAIL = "{label} '{value}' already seen in {first_file} line {first_line}"
TRUNCATED_GZIP_DETAIL = (
    "gzip stream ends before its end marker after {lines} complete lines; "
    "the rest of the file is lost (partial last line as raw text)"
)
CORRUPT_GZIP_DETAIL = "gzip stream is damaged after {lines} complete lines: {error}"
CHECK_DISAGREEMENT_DETAIL = ("the reference validator finds this line good but Spark's JSON parser rejects it; "
                             "a bug in watchlist_screening.normalise, please report it")
