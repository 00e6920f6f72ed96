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
# Ids: printable, as the schemas' pattern text (JSON Schema escapes, which Python's re
# reads the same way): no control, bidi-override, line/paragraph separator or BOM.
PRINTABLE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]+$"
UNPRINTABLE_CLASS = "[" + PRINTABLE_PATTERN[len("^[^"):-len("]+$")] + "]"
ID_MAX_LENGTH = 128
NAME_MAX_LENGTH = 200          # names and other short strings
FREE_TEXT_MAX_LENGTH = 2000    # offence, caution
ALIASES_MAX_ITEMS = 50
# Not in the schemas: a resource bound. A contract line nests 3 levels (record, aliases,
# alias); a line nested ~1,000 deep makes both JSON decoders raise RecursionError, at a
# depth that depends on the caller's stack, so both tiers refuse beyond this fixed depth.
MAX_NESTING = 64
SEXES = ("F", "M", "X")
EYE_COLOURS = ("amber", "blue", "brown", "green", "grey", "hazel", "other")
DIRECTIONS = ("arrival", "departure")
HEIGHT_RANGE_CM = (50, 260)


class Kind(Enum):
    STRING = "string"
    ID = "id"                  # a non-empty printable string (PRINTABLE_PATTERN)
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
    max_length: int | None = None     # in characters (code points), as JSON Schema counts
    pattern: str | None = None        # the schema's pattern text, anchored with ^...$
    max_items: int | None = None
    # Free text beyond max_length is cut there and the line kept, with a warning row in the
    # quarantine (a wanted person is never dropped for a note), instead of quarantined.
    cut_beyond_bound: bool = False


def python_pattern(pattern: str) -> str:
    """A schema pattern for Python's re: \\A...\\Z, as $ also matches before a final newline."""
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    return r"\A" + pattern[1:-1] + r"\Z"


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
CHECK_DISAGREEMENT = "check_disagreement"   # a bug, never a data problem: see batch_rows.py
TOO_LONG = "too_long"                  # a string beyond maxLength, an array beyond maxItems
NUL_CHARACTER = "nul_character"        # "\u0000" in a name: PostgreSQL text cannot hold it
TOO_DEEP = "too_deep"                  # nested beyond MAX_NESTING
WRONG_DAY = "wrong_day"                # scanned_at's UTC date is not the folder's day
WRONG_AIRPORT = "wrong_airport"        # airport is not the file's
# Warnings: the line is kept (and counted as loaded), the row only says what was changed.
TEXT_CUT = "text_cut"
WARNING_REASONS = frozenset({TEXT_CUT})
# File-level entries of a day folder (line_number 0, no raw text: never read).
SYMBOLIC_LINK = "symbolic_link"
NOT_A_FILE = "not_a_file"
BAD_FILE_NAME = "bad_file_name"
UNSUPPORTED_FORMAT = "unsupported_format"   # no longer given (Parquet is read): rows of earlier runs
UNREADABLE_FILE = "unreadable_file"
BAD_PARQUET = "bad_parquet"            # no readable footer (truncated?), or data Spark cannot read

NOT_JSON_DETAIL = "line is not valid JSON (truncated?)"
NOT_OBJECT_DETAIL = "line is JSON but not an object, got {got}"
NOT_UTF8_DETAIL = "line is not valid UTF-8"
TOO_DEEP_DETAIL = f"line nests arrays or objects more than {MAX_NESTING} levels deep"

_HEIGHT = Field("height_cm", Kind.NUMBER, required=True, value_range=HEIGHT_RANGE_CM)
_SEX = Field("sex", Kind.ENUM, required=True, choices=SEXES)
_EYES = Field("eye_colour", Kind.ENUM, required=True, choices=EYE_COLOURS)
_EMBEDDING = Field("face_embedding", Kind.EMBEDDING, required=True, max_items=EMBEDDING_SIZE)


def _id(name: str) -> Field:
    return Field(name, Kind.ID, required=True, max_length=ID_MAX_LENGTH, pattern=PRINTABLE_PATTERN)


def _code(name: str, required: bool = False) -> Field:
    return Field(name, Kind.CODE, required=required, pattern=CODE_PATTERN)


def _name(name: str, required: bool = False) -> Field:
    return Field(name, Kind.STRING, required=required, max_length=NAME_MAX_LENGTH)


def _free_text(name: str) -> Field:
    return Field(name, Kind.STRING, max_length=FREE_TEXT_MAX_LENGTH, cut_beyond_bound=True)


# In the order of the JSON Schemas' properties: the first failing rule names the problem.
PASSENGER_FIELDS: tuple[Field, ...] = (
    _id("scan_id"),
    _code("airport", required=True),
    Field("scanned_at", Kind.DATETIME, required=True),
    Field("direction", Kind.ENUM, choices=DIRECTIONS),
    _name("flight_number"),
    _name("document_number"),
    _code("issuing_country"),
    _name("given_names", required=True),
    _name("surname", required=True),
    Field("date_of_birth", Kind.DATE, required=True),
    _name("place_of_birth"),
    _code("nationality"),
    _SEX,
    _HEIGHT,
    _EYES,
    _EMBEDDING,
)

WATCHLIST_FIELDS: tuple[Field, ...] = (
    _id("subject_id"),
    _name("given_names", required=True),
    _name("surname", required=True),
    Field("aliases", Kind.ALIASES, max_items=ALIASES_MAX_ITEMS),
    Field("date_of_birth", Kind.DATE),
    _name("place_of_birth"),
    _code("nationality"),
    _SEX,
    _HEIGHT,
    _EYES,
    _EMBEDDING,
    _free_text("offence"),
    _free_text("caution"),
    Field("listed_on", Kind.DATE),
)

ALIAS_FIELDS: tuple[Field, ...] = (
    _name("given_names", required=True),
    _name("surname", required=True),
    Field("date_of_birth", Kind.DATE),
)


# Detail templates shared by both validators (filled with str.format in Python and with
# column concatenation in Spark), so their details match to the character.
MISSING_DETAIL = "required field '{label}' is missing"
NULL_DETAIL = "required field '{label}' is null"
WRONG_TYPE_DETAIL = "field '{label}' must be {expected}, got {got}"
EMPTY_DETAIL = "field '{label}' must not be empty"
PATTERN_DETAIL = "field '{label}' must match {pattern}, got '{value}'"
PRINTABLE_DETAIL = ("field '{label}' must be printable (no control, bidi-override or line/paragraph separator "
                    "character), got U+{code:04X} at character {position}")
TOO_LONG_DETAIL = "field '{label}' is {length} characters long, at most {limit} allowed"
TOO_MANY_DETAIL = "field '{label}' has {count} items, at most {limit} allowed"
NUL_DETAIL = "field '{label}' contains a NUL character (\\u0000) at character {position}"
TEXT_CUT_DETAIL = ("field '{label}' is {length} characters long: kept, cut to the first {limit} "
                   "(the entry is loaded)")
TEXT_NUL_DETAIL = "field '{label}' contains NUL characters (\\u0000): kept, each replaced with U+FFFD (the entry is loaded)"
WRONG_DAY_DETAIL = "field 'scanned_at' is on {got} (UTC), but the file is in the folder of {day}"
WRONG_AIRPORT_DETAIL = "field 'airport' is '{got}', but the file is {file_airport}'s"
SYMBOLIC_LINK_DETAIL = "a symbolic link; never followed (feeds are written by other parties)"
NOT_A_FILE_DETAIL = "not a regular file ({kind}); not read"
NOT_A_FOLDER_DETAIL = "the day's folder is not a folder; not read (the day is screened as empty)"
BAD_FILE_NAME_DETAIL = ("file name must be <IATA>.jsonl, <IATA>.jsonl.gz or <IATA>.parquet with <IATA> "
                        "matching ^[A-Z]{3}$; not read")
UNREADABLE_FILE_DETAIL = "cannot be opened: {error}"
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
BAD_PARQUET_DETAIL = "not a readable Parquet file: {error}; not read"
CHECK_DISAGREEMENT_ROW_DETAIL = ("the reference validator finds this row good but the vectorised checks reject it; "
                                 "a bug in watchlist_screening.normalise, please report it")
CHECK_DISAGREEMENT_DETAIL = ("the reference validator finds this line good but Spark's JSON parser rejects it; "
                             "a bug in watchlist_screening.normalise, please report it")
