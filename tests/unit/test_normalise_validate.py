"""The plain-Python validator (the reference for the Spark checks): every reason code on
a crafted line, and the contract data held to the JSON Schemas it mirrors."""
from __future__ import annotations

import json
import random

import pytest

from watchlist_screening.pipeline_settings import REPO_ROOT
from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.validate import check_line

CONTRACT_DIR = REPO_ROOT.parent / "shared" / "contract"
EMBEDDING = [round(random.Random(1).uniform(-1, 1), 6) for _ in range(128)]
PASSENGER = {"scan_id": "S1", "airport": "AMS", "scanned_at": "2026-03-01T08:15:00Z", "direction": "arrival",
             "given_names": "Anna", "surname": "Smith", "date_of_birth": "1980-02-29", "sex": "F",
             "height_cm": 170.5, "eye_colour": "hazel", "face_embedding": EMBEDDING}
WATCHLIST = {"subject_id": "W1", "given_names": "Ivan", "surname": "Petrov",
             "aliases": [{"given_names": "John", "surname": "Doe", "date_of_birth": "1970-01-01"}],
             "sex": "M", "height_cm": 180, "eye_colour": "blue", "face_embedding": EMBEDDING}
DROP = object()


def nested(depth: int) -> list:
    """An array `depth` levels deep."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def line(base: dict, **changes) -> str:
    record = {**base, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not DROP}, ensure_ascii=False)


# (line, reason, detail): one for every reason a line can get on its own.
PASSENGER_CASES = [
    ('{"scan_id": "S1", "airport": "AM', c.NOT_JSON, "line is not valid JSON (truncated?)"),
    ("", c.NOT_JSON, "line is not valid JSON (truncated?)"),
    (line(PASSENGER) + " trailing", c.NOT_JSON, "line is not valid JSON (truncated?)"),
    (line(PASSENGER) + line(PASSENGER), c.NOT_JSON, "line is not valid JSON (truncated?)"),
    (line(PASSENGER, height_cm=float("nan")), c.NOT_JSON, "line is not valid JSON (truncated?)"),
    ("[1, 2]", c.NOT_OBJECT, "line is JSON but not an object, got array"),
    (line(PASSENGER, surname=DROP), c.MISSING_FIELD, "required field 'surname' is missing"),
    (line(PASSENGER, surname=None), c.MISSING_FIELD, "required field 'surname' is null"),
    (line(PASSENGER, height_cm="170"), c.WRONG_TYPE, "field 'height_cm' must be a number, got string"),
    (line(PASSENGER, scan_id=5), c.WRONG_TYPE, "field 'scan_id' must be a string, got number"),
    (line(PASSENGER, given_names=["A"]), c.WRONG_TYPE, "field 'given_names' must be a string, got array"),
    (line(PASSENGER, height_cm=True), c.WRONG_TYPE, "field 'height_cm' must be a number, got boolean"),
    (line(PASSENGER, scan_id=""), c.EMPTY_STRING, "field 'scan_id' must not be empty"),
    (line(PASSENGER, date_of_birth="1980-13-45"), c.BAD_DATE,
     "field 'date_of_birth' is not a valid YYYY-MM-DD date: '1980-13-45'"),
    (line(PASSENGER, scanned_at="yesterday"), c.BAD_DATETIME,
     "field 'scanned_at' is not a valid RFC 3339 date-time: 'yesterday'"),
    (line(PASSENGER, height_cm=900), c.OUT_OF_RANGE, "field 'height_cm' is 900, outside 50..260"),
    (line(PASSENGER, height_cm=12.5), c.OUT_OF_RANGE, "field 'height_cm' is 12.5, outside 50..260"),
    (line(PASSENGER, face_embedding=EMBEDDING[:127]), c.BAD_EMBEDDING,
     "field 'face_embedding' has 127 values, expected 128"),
    (line(PASSENGER, face_embedding=EMBEDDING[:127] + ["0.5"]), c.BAD_EMBEDDING,
     "field 'face_embedding' contains a non-finite or non-number value"),
    (line(PASSENGER, face_embedding=EMBEDDING[:127] + [None]), c.BAD_EMBEDDING,
     "field 'face_embedding' contains a non-finite or non-number value"),
    (line(PASSENGER).replace(str(EMBEDDING[0]), "1e400", 1), c.BAD_EMBEDDING,
     "field 'face_embedding' contains a non-finite or non-number value"),
    (line(PASSENGER, face_embedding=[0] * 128), c.BAD_EMBEDDING,
     "field 'face_embedding' cannot be scaled to unit length (all zeros or too large)"),
    (line(PASSENGER, face_embedding="abc"), c.WRONG_TYPE, "field 'face_embedding' must be an array, got string"),
    (line(PASSENGER, sex="male"), c.BAD_ENUM, "field 'sex' must be one of F, M, X, got 'male'"),
    (line(PASSENGER, eye_colour="Brown"), c.BAD_ENUM,
     "field 'eye_colour' must be one of amber, blue, brown, green, grey, hazel, other, got 'Brown'"),
    (line(PASSENGER, direction="inbound"), c.BAD_ENUM,
     "field 'direction' must be one of arrival, departure, got 'inbound'"),
    (line(PASSENGER, airport="ams"), c.BAD_PATTERN, "field 'airport' must match ^[A-Z]{3}$, got 'ams'"),
    (line(PASSENGER, nationality="DE"), c.BAD_PATTERN, "field 'nationality' must match ^[A-Z]{3}$, got 'DE'"),
    (line(PASSENGER, issuing_country="ÄBC"), c.BAD_PATTERN,
     "field 'issuing_country' must match ^[A-Z]{3}$, got 'ÄBC'"),
    # the contract's bounds (issue 13): ids <= 128 printable characters, names <= 200
    (line(PASSENGER, scan_id="S" * 129), c.TOO_LONG, "field 'scan_id' is 129 characters long, at most 128 allowed"),
    (line(PASSENGER, surname="x" * 201), c.TOO_LONG, "field 'surname' is 201 characters long, at most 200 allowed"),
    (line(PASSENGER, flight_number="9" * 201), c.TOO_LONG,
     "field 'flight_number' is 201 characters long, at most 200 allowed"),
    (line(PASSENGER, scan_id="S\u0000"), c.BAD_PATTERN,
     "field 'scan_id' must be printable (no control, bidi-override or line/paragraph separator character), "
     "got U+0000 at character 2"),
    (line(PASSENGER, scan_id="\u202eS1"), c.BAD_PATTERN,
     "field 'scan_id' must be printable (no control, bidi-override or line/paragraph separator character), "
     "got U+202E at character 1"),
    (line(PASSENGER, surname="Sm\u0000ith"), c.NUL_CHARACTER,
     "field 'surname' contains a NUL character (\\u0000) at character 3"),
    (line(PASSENGER, airport="A\u0000S"), c.BAD_PATTERN, "field 'airport' must match ^[A-Z]{3}$, got 'A\\u0000S'"),
    # issue 13: about 2 KB of '[' raised RecursionError in both decoders
    ("[" * 2000, c.TOO_DEEP, "line nests arrays or objects more than 64 levels deep"),
    ('{"a":' * 1000, c.TOO_DEEP, "line nests arrays or objects more than 64 levels deep"),
    (line(PASSENGER, extra=nested(64)),
     c.TOO_DEEP, "line nests arrays or objects more than 64 levels deep"),
]
# Lines that honour the contract although they look odd.
GOOD_PASSENGER_LINES = [
    line(PASSENGER),
    line(PASSENGER, scan_id="S" * 128, surname="x" * 200, given_names="é" * 200, document_number="D" * 200),
    line(PASSENGER, scan_id="Zoë-😀 1", surname="[" * 100, extra=nested(63)),   # 64 levels with the record
    "\ufeff" + line(PASSENGER),                                   # byte order mark
    line(PASSENGER, nationality=None, direction=None),            # optional null = absent
    line(PASSENGER, given_names="", place_of_birth="Kraków", extra_field={"x": 1}),
    line(PASSENGER, scanned_at="2026-03-01t08:15:00.5+01:00"),
    line(PASSENGER, height_cm=50, face_embedding=[1] * 128),
    line(PASSENGER, surname="Zed}{x"),                            # braces inside a string
    '{"scan_id": "S9", "scan_id": "S1"' + line(PASSENGER)[len('{"scan_id": "S1"'):],   # duplicate key: last wins
    line(PASSENGER) + "  ",
]
WATCHLIST_CASES = [
    (line(WATCHLIST, aliases={"given_names": "x"}), c.WRONG_TYPE, "field 'aliases' must be an array, got object"),
    (line(WATCHLIST, aliases=["John Doe"]), c.WRONG_TYPE, "field 'aliases[0]' must be an object, got string"),
    (line(WATCHLIST, aliases=[{"given_names": "J", "surname": "D"}, {"given_names": "J"}]), c.MISSING_FIELD,
     "required field 'aliases[1].surname' is missing"),
    (line(WATCHLIST, aliases=[{"given_names": "J", "surname": "D", "date_of_birth": "1970-02-30"}]), c.BAD_DATE,
     "field 'aliases[0].date_of_birth' is not a valid YYYY-MM-DD date: '1970-02-30'"),
    (line(WATCHLIST, subject_id=DROP), c.MISSING_FIELD, "required field 'subject_id' is missing"),
    (line(WATCHLIST, listed_on="2020-1-1"), c.BAD_DATE, "field 'listed_on' is not a valid YYYY-MM-DD date: '2020-1-1'"),
    (line(WATCHLIST, subject_id="W" * 129), c.TOO_LONG, "field 'subject_id' is 129 characters long, at most 128 allowed"),
    (line(WATCHLIST, subject_id="W\n1"), c.BAD_PATTERN,
     "field 'subject_id' must be printable (no control, bidi-override or line/paragraph separator character), "
     "got U+000A at character 2"),
    (line(WATCHLIST, aliases=[{"given_names": "J", "surname": "D"}] * 51), c.TOO_LONG,
     "field 'aliases' has 51 items, at most 50 allowed"),
    (line(WATCHLIST, aliases=[{"given_names": "J" * 201, "surname": "D"}]), c.TOO_LONG,
     "field 'aliases[0].given_names' is 201 characters long, at most 200 allowed"),
    (line(WATCHLIST, aliases=[{"given_names": "J", "surname": "\u0000"}]), c.NUL_CHARACTER,
     "field 'aliases[0].surname' contains a NUL character (\\u0000) at character 1"),
    (line(WATCHLIST, place_of_birth="p" * 201), c.TOO_LONG,
     "field 'place_of_birth' is 201 characters long, at most 200 allowed"),
    ("{" * 3000, c.TOO_DEEP, "line nests arrays or objects more than 64 levels deep"),
]
GOOD_WATCHLIST_LINES = [line(WATCHLIST), line(WATCHLIST, aliases=[], date_of_birth="1970-01-01"),
                        line(WATCHLIST, aliases=None, offence="fraud", caution="armed"),
                        line(WATCHLIST, subject_id="W" * 128, aliases=[{"given_names": "J" * 200, "surname": "D"}] * 50),
                        # free text beyond its bound is cut, not quarantined (batch_rows.py writes a warning)
                        line(WATCHLIST, offence="o" * 2001, caution="c\u0000" * 1500)]


@pytest.mark.parametrize("raw, reason, detail", PASSENGER_CASES)
def test_passenger_problem(raw, reason, detail):
    record, problem = check_line(raw, c.PASSENGER_FIELDS)
    assert record is None
    assert (problem.reason, problem.detail) == (reason, detail)


@pytest.mark.parametrize("raw, reason, detail", WATCHLIST_CASES)
def test_watchlist_problem(raw, reason, detail):
    _, problem = check_line(raw, c.WATCHLIST_FIELDS)
    assert (problem.reason, problem.detail) == (reason, detail)


@pytest.mark.parametrize("raw", GOOD_PASSENGER_LINES)
def test_good_passenger_lines(raw):
    assert check_line(raw, c.PASSENGER_FIELDS)[1] is None


@pytest.mark.parametrize("raw", GOOD_WATCHLIST_LINES)
def test_good_watchlist_lines(raw):
    assert check_line(raw, c.WATCHLIST_FIELDS)[1] is None


def test_first_problem_in_contract_order_wins():
    _, problem = check_line(line(PASSENGER, airport="x", height_cm=900), c.PASSENGER_FIELDS)
    assert problem.reason == c.BAD_PATTERN


def test_long_values_are_cut_in_details():
    _, problem = check_line(line(PASSENGER, sex="M" * 500), c.PASSENGER_FIELDS)
    assert len(problem.detail) < 200


def _schema(name: str) -> dict:
    path = CONTRACT_DIR / f"{name}.schema.json"
    if not path.exists():
        pytest.skip(f"{path} is not beside the repository")
    return json.loads(path.read_text())


# Every keyword the schemas use; a new one fails the mirror test until contract.py has it.
KNOWN_KEYWORDS = {"type", "description", "enum", "format", "minimum", "maximum", "minLength", "maxLength", "pattern",
                  "items", "minItems", "maxItems", "required", "properties"}


def _mirror(fields: tuple, schema: dict, where: str) -> None:
    """contract.py's fields against one object schema: names, order, requiredness, and
    every bound (maxLength, pattern, maxItems and the rest) field by field."""
    properties = schema["properties"]
    assert [f.name for f in fields] == list(properties), where
    assert {f.name for f in fields if f.required} == set(schema["required"]), where
    for field in fields:
        spec = properties[field.name]
        label = f"{where}.{field.name}"
        assert set(spec) <= KNOWN_KEYWORDS, (label, set(spec) - KNOWN_KEYWORDS)
        assert field.max_length == spec.get("maxLength"), label
        assert field.pattern == spec.get("pattern"), label
        assert field.max_items == spec.get("maxItems"), label
        assert (field.kind is c.Kind.ID) == (spec.get("minLength") == 1), label
        assert field.choices == tuple(sorted(spec.get("enum", ()))), label
        assert field.value_range == ((spec["minimum"], spec["maximum"]) if "minimum" in spec else None), label
        assert (field.kind is c.Kind.DATE) == (spec.get("format") == "date"), label
        assert (field.kind is c.Kind.DATETIME) == (spec.get("format") == "date-time"), label
        assert (field.kind is c.Kind.CODE) == (spec.get("pattern") == c.CODE_PATTERN), label
        if field.kind is c.Kind.STRING or field.kind is c.Kind.ID or field.kind is c.Kind.CODE:
            assert spec.get("type") == "string", label
        if field.cut_beyond_bound:   # the contract's one exception: free text is cut, not quarantined
            assert field.name in ("offence", "caution") and field.max_length == c.FREE_TEXT_MAX_LENGTH, label
        if "items" in spec and spec["items"].get("type") == "number":
            assert field.kind is c.Kind.EMBEDDING and spec["minItems"] == spec["maxItems"] == c.EMBEDDING_SIZE
        if field.kind is c.Kind.ALIASES:
            _mirror(c.ALIAS_FIELDS, spec["items"], label + "[]")


@pytest.mark.parametrize("name, fields", [("passenger", c.PASSENGER_FIELDS), ("watchlist", c.WATCHLIST_FIELDS)])
def test_contract_data_mirrors_the_json_schema(name, fields):
    _mirror(fields, _schema(name), name)


@pytest.mark.parametrize("drift", [
    {"max_length": 129}, {"max_length": None}, {"pattern": "^[^\\u0000]+$"}, {"max_items": 51},
])
def test_the_mirror_fails_when_the_code_drifts(drift):
    """The mirror catches a bound changed on one side only (here: scan_id or aliases)."""
    import dataclasses

    fields = c.WATCHLIST_FIELDS if "max_items" in drift else c.PASSENGER_FIELDS
    target = "aliases" if "max_items" in drift else "scan_id"
    drifted = tuple(dataclasses.replace(f, **drift) if f.name == target else f for f in fields)
    with pytest.raises(AssertionError):
        _mirror(drifted, _schema("watchlist" if "max_items" in drift else "passenger"), "drifted")
