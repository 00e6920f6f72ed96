"""Parquet rows through the vectorised checks (columns.py) and finish_rows (parquet.py),
held against the reference that names JSONL lines' problems: the same rules, reasons and
details for a row as for the line that carries the same values; column types the contract
does not allow quarantined per row; Hypothesis on arbitrary Parquet tables (every row one
good row or one quarantine row, and a row passed only where the reference passes it)."""
from __future__ import annotations

import io
import json
import math
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from tests.unit.test_feed_fuzz import awkward_text
from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.columns import check_columns, json_records, re2_pattern, record_problem
from watchlist_screening.normalise.batch_rows import file_place, finish
from watchlist_screening.normalise.landing import LandingFile, day_listing
from watchlist_screening.normalise.lines import line_batches
from watchlist_screening.normalise.parquet import ROW_INDEX, finish_rows, inspect, pick_rows
from watchlist_screening.normalise.raw_lines import line_blocks
from watchlist_screening.normalise.records import PASSENGERS
from watchlist_screening.normalise.validate import check_line, placement_problem
from watchlist_screening.normalise.rules import parse_date_time

DAY = date(2026, 3, 1)
SOURCE = f"passengers/{DAY}/AMS.parquet"
EMBEDDING = [((i * 37) % 11 - 5) / 5 for i in range(128)]
ROW = {"scan_id": "S1", "airport": "AMS", "scanned_at": "2026-03-01T08:15:00+00:00", "direction": "arrival",
       "given_names": "Zoë", "surname": "Dvořák", "date_of_birth": "1980-02-29", "sex": "F", "height_cm": 170.5,
       "eye_colour": "hazel", "face_embedding": EMBEDDING}
# the contract's Parquet types, as a producer writes them
TYPES = {"scanned_at": pa.timestamp("us", "UTC"), "date_of_birth": pa.date32(), "height_cm": pa.float64(),
         "face_embedding": pa.list_(pa.float32())}


def _value(value, kind: pa.DataType):
    if value is None:
        return None
    if not isinstance(value, str) or not (pa.types.is_timestamp(kind) or pa.types.is_date32(kind)):
        return value
    moment = parse_date_time(value) or datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    if pa.types.is_date32(kind):
        return moment.date()
    return moment if kind.tz else moment.replace(tzinfo=None)


def table(rows: list[dict], types: dict | None = None, drop: tuple[str, ...] = ()) -> pa.Table:
    """JSON-like rows as a Parquet file's table (written and read back), typed by `types`
    (TYPES and text by default), with the row index Spark adds."""
    types = {**TYPES, **(types or {})}
    names = [f.name for f in c.PASSENGER_FIELDS if f.name not in drop]
    columns = {n: pa.array([_value(r.get(n), types.get(n, pa.string())) for r in rows], types.get(n, pa.string()))
               for n in names}
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    read = pq.read_table(io.BytesIO(sink.getvalue()))
    return read.append_column(ROW_INDEX, pa.array(range(len(rows)), pa.int64()))


def finished(t: pa.Table, nanos: frozenset[str] = frozenset()):
    return finish_rows(t.combine_chunks().to_batches()[0] if t.num_rows else t.to_batches()[0] if t.to_batches()
                       else pa.RecordBatch.from_pylist([], t.schema), SOURCE, PASSENGERS, nanos)


def one(rows, **kw) -> tuple[str, str] | None:
    done = finished(table(rows, **kw))
    assert done.good.num_rows + done.bad.num_rows == len(rows)
    if done.bad.num_rows == 0:
        return None
    [bad] = done.bad.to_pylist()
    return bad["reason"], bad["detail"]


def line_problem(record: dict) -> tuple[str, str] | None:
    """What the JSONL path says of the same values as a line of AMS.jsonl on DAY."""
    found, problem = check_line(json.dumps(record, ensure_ascii=False), c.PASSENGER_FIELDS)
    if problem is None:
        problem = placement_problem(found["airport"], parse_date_time(found["scanned_at"]), DAY, "AMS")
    return (problem.reason, problem.detail) if problem else None


def row(**changes) -> dict:
    return {**ROW, **changes}


# Rows whose values a line can carry too: the row and the line must be judged alike.
ROWS = [
    row(),
    row(scan_id="S" * 128, surname="Ø" * 200),
    row(scan_id="S" * 129),
    row(scan_id=""),
    row(scan_id="S\x00"),
    row(scan_id="S\u202e1"),
    row(surname="Smi\x00th"),
    row(given_names="x" * 201),
    row(airport="CDG"),
    row(airport="ams"),
    row(scanned_at="2026-02-28T23:59:59+00:00"),
    row(scanned_at="2026-03-02T00:30:00+00:00"),
    row(direction="sideways"),
    row(direction=None),
    row(nationality="XX"),
    row(sex="Q"),
    row(sex=None),
    row(height_cm=300.0),
    row(height_cm=49.9),
    row(height_cm=None),
    row(eye_colour="violet"),
    row(face_embedding=EMBEDDING[:127]),
    row(face_embedding=EMBEDDING + [0.5]),
    row(face_embedding=[0.0] * 128),
    row(face_embedding=EMBEDDING[:127] + [None]),
    row(face_embedding=None),
    row(date_of_birth=None),
]


@pytest.mark.parametrize("record", ROWS, ids=range(len(ROWS)))
def test_a_row_is_judged_as_the_line_with_its_values(record):
    assert one([record]) == line_problem(record)


def test_a_good_row_is_staged_as_its_line_would_be():
    # float64 embeddings: the doubles the JSON text holds (float32 ones are other numbers)
    done = finished(table([ROW], types={"face_embedding": pa.list_(pa.float64())}))
    line = json.dumps(ROW, ensure_ascii=False).encode()
    [batch] = line_batches(SOURCE.replace(".parquet", ".jsonl"), [type("B", (), {"first": 1, "lines": [line],
                                                                                  "reason": None, "detail": None})()])
    expected = finish(batch, PASSENGERS).good.drop_columns(["source_file"])
    assert done.good.drop_columns(["source_file"]).equals(expected)
    assert done.good.column("source_file").to_pylist() == [SOURCE]


def test_non_finite_values_have_the_reference_reasons():
    # JSON cannot carry NaN or infinity: the reference still names them, as for Spark's numbers
    assert one([row(height_cm=math.nan)]) == (c.OUT_OF_RANGE, "field 'height_cm' is nan, outside 50..260")
    assert one([row(height_cm=math.inf)]) == (c.OUT_OF_RANGE, "field 'height_cm' is Infinity, outside 50..260")
    assert one([row(face_embedding=EMBEDDING[:127] + [math.inf])]) == (
        c.BAD_EMBEDDING, "field 'face_embedding' contains a non-finite or non-number value")
    assert one([row(face_embedding=EMBEDDING[:127] + [math.nan])]) == (
        c.BAD_EMBEDDING, "field 'face_embedding' cannot be scaled to unit length (all zeros or too large)")


def test_dates_as_date32_or_text_and_times_as_timestamps_or_text_give_the_same_rows():
    typed = finished(table([ROW]))
    text = finished(table([ROW], types={"scanned_at": pa.string(), "date_of_birth": pa.string()}))
    offset = finished(table([row(scanned_at="2026-03-01T09:15:00+01:00")], types={"scanned_at": pa.string()}))
    millis = finished(table([ROW], types={"scanned_at": pa.timestamp("ms", "UTC"), "height_cm": pa.int32()
                                          if False else pa.float32()}))
    for other in (text, offset, millis):
        assert other.bad.num_rows == 0
        assert other.good.drop_columns(["source_file"]).equals(typed.good.drop_columns(["source_file"]))


def test_a_nanosecond_timestamp_spark_hands_over_as_int64_is_read_as_one():
    t = table([ROW, row(scan_id="S2", scanned_at="2026-02-28T12:00:00+00:00")])
    nanos = t.column("scanned_at").cast(pa.int64()).to_numpy() * 1000
    t = t.set_column(t.schema.get_field_index("scanned_at"), "scanned_at", pa.array(nanos, pa.int64()))
    done = finished(t, frozenset({"scanned_at"}))
    assert done.good.column("scan_id").to_pylist() == ["S1"]
    assert done.good.column("scanned_at").to_pylist() == [datetime(2026, 3, 1, 8, 15, tzinfo=timezone.utc)]
    assert done.bad.column("reason").to_pylist() == [c.WRONG_DAY]


@pytest.mark.parametrize("text, reason", [
    ("2026-02-30", c.BAD_DATE), ("0000-01-01", c.BAD_DATE), ("1980-2-29", c.BAD_DATE), ("29/02/1980", c.BAD_DATE),
    ("1980-02-29", None), ("1980-02-29 ", c.BAD_DATE)])
def test_text_dates_follow_the_full_date_rule(text, reason):
    found = one([row(date_of_birth=text)], types={"date_of_birth": pa.string()})
    assert found == line_problem(row(date_of_birth=text))
    assert (found or (None,))[0] == reason


@pytest.mark.parametrize("text", ["2026-03-01T08:15:00Z", "2026-03-01t08:15:00.123456789z", "2026-03-01 08:15:00Z",
                                  "2026-03-01T08:15:00", "2026-03-01T24:00:00Z", "2026-03-01T08:15:00+24:00",
                                  "2026-03-01T01:00:00+02:00"])
def test_text_times_follow_the_date_time_rule(text):
    assert one([row(scanned_at=text)], types={"scanned_at": pa.string()}) == line_problem(row(scanned_at=text))


@pytest.mark.parametrize("types, reason, detail", [
    ({"height_cm": pa.string()}, c.WRONG_TYPE, "field 'height_cm' must be a number, got string"),
    ({"height_cm": pa.bool_()}, c.WRONG_TYPE, "field 'height_cm' must be a number, got boolean"),
    ({"face_embedding": pa.string()}, c.WRONG_TYPE, "field 'face_embedding' must be an array, got string"),
    ({"face_embedding": pa.list_(pa.string())}, c.BAD_EMBEDDING,
     "field 'face_embedding' contains a non-finite or non-number value"),
    ({"scanned_at": pa.timestamp("us")}, c.WRONG_TYPE, "field 'scanned_at' must be a string, got timestamp[us]"),
    ({"scanned_at": pa.date32()}, c.WRONG_TYPE, "field 'scanned_at' must be a string, got date32[day]"),
    ({"date_of_birth": pa.timestamp("us", "UTC")}, c.WRONG_TYPE,
     "field 'date_of_birth' must be a string, got timestamp[us, tz=UTC]"),
    ({"surname": pa.int64()}, c.WRONG_TYPE, "field 'surname' must be a string, got number"),
    ({"scan_id": pa.binary()}, c.WRONG_TYPE, "field 'scan_id' must be a string, got binary"),
])
def test_a_column_of_a_type_the_contract_does_not_allow_quarantines_each_row(types, reason, detail):
    values = {"height_cm": {pa.string(): "170", pa.bool_(): True}, "face_embedding": {pa.string(): "[0.1]",
              pa.list_(pa.string()): ["0.1"] * 128}, "surname": {pa.int64(): 7}, "scan_id": {pa.binary(): b"S1"}}
    (name, kind), = types.items()
    value = values.get(name, {}).get(kind, ROW[name])
    rows = [{**row(scan_id=f"S{i}"), name: value} for i in range(3)] + [{**row(scan_id="S9"), name: None}]
    done = finished(table(rows, types=types))
    assert done.good.num_rows == 0
    problems = sorted(zip(done.bad.column("line_number").to_pylist(), done.bad.column("reason").to_pylist(),
                          done.bad.column("detail").to_pylist()))
    assert problems[:3] == [(n, reason, detail) for n in (1, 2, 3)]
    assert problems[3][:2] == (4, c.MISSING_FIELD)


def test_a_missing_column_is_a_missing_field_on_every_row():
    assert one([ROW], drop=("surname",)) == (c.MISSING_FIELD, "required field 'surname' is missing")
    assert one([ROW], drop=("place_of_birth", "direction")) is None


def test_row_numbers_count_from_one_across_batches_and_raw_text_is_the_row_as_json():
    rows = [row(scan_id=f"S{i}", height_cm=300.0 if i % 4 == 0 else 170.0) for i in range(10)]
    t = table(rows)
    bad = []
    for batch in t.to_batches(max_chunksize=3):
        bad += finish_rows(batch, SOURCE, PASSENGERS).bad.to_pylist()
    assert [b["line_number"] for b in bad] == [1, 5, 9]
    assert json.loads(bad[1]["raw_text"])["scan_id"] == "S4"
    assert json.loads(bad[1]["raw_text"])["scanned_at"] == "2026-03-01T08:15:00+00:00"


def test_re2_patterns_match_as_the_schema_means():
    import pyarrow.compute as pc

    texts = pa.array(["AMS", "AMS\n", "AM", "\u2028", "ok"])
    assert pc.match_substring_regex(texts, re2_pattern(c.CODE_PATTERN)).to_pylist() == [True, False, False, False,
                                                                                       False]
    assert pc.match_substring_regex(texts, re2_pattern(c.PRINTABLE_PATTERN)).to_pylist() == [True, False, True,
                                                                                            False, True]


def _write(path: Path, t: pa.Table, **kw) -> LandingFile:
    pq.write_table(t.drop_columns([ROW_INDEX]), path, **kw)
    info = path.stat()
    return LandingFile(f"passengers/{DAY}/{path.name}", path, info.st_size, (info.st_dev, info.st_ino))


def test_a_file_without_a_readable_footer_is_rejected_and_duplicates_are_picked_by_row(tmp_path):
    rows = [row(scan_id=f"S{i}") for i in range(25)]
    file = _write(tmp_path / "AMS.parquet", table(rows), row_group_size=7)
    found = inspect(file, PASSENGERS)
    assert (found.rows, found.nanos, found.columns[:2]) == (25, frozenset(), ("scan_id", "airport"))
    picked = dict(pick_rows(file, [1, 9, 25, 8], PASSENGERS))
    assert {n: json.loads(text)["scan_id"] for n, text in picked.items()} == {1: "S0", 8: "S7", 9: "S8", 25: "S24"}
    cut = tmp_path / "CDG.parquet"
    cut.write_bytes((tmp_path / "AMS.parquet").read_bytes()[:-100])
    info = cut.stat()
    rejected = inspect(LandingFile(f"passengers/{DAY}/CDG.parquet", cut, info.st_size), PASSENGERS)
    assert rejected.reason == c.BAD_PARQUET and rejected.detail.startswith("not a readable Parquet file: ")


def test_the_generators_parquet_day_stages_the_rows_of_its_jsonl_day(tmp_path):
    from watchlist_screening.generator.cli import main as generate

    days = {}
    for form in ("jsonl", "parquet"):
        root = tmp_path / form
        generate(["--landing-dir", str(root), "--date", DAY.isoformat(), "--watchlist-size", "50",
                  "--passengers-per-airport", "400", "--sightings", "6", "--bad-lines", "30", "--seed", "9",
                  "--format", form])
        good, bad = [], []
        for file in day_listing(root, DAY).files:
            if file.parquet:
                t = pq.read_table(file.path)
                t = t.append_column(ROW_INDEX, pa.array(range(t.num_rows), pa.int64()))
                parts = [finish_rows(b, file.relative, PASSENGERS) for b in t.to_batches(max_chunksize=100)]
            else:
                parts = [finish(b, PASSENGERS) for b in line_batches(file.relative, line_blocks(file), size=100)]
            good += [p.good for p in parts]
            bad += [p.bad for p in parts]
        days[form] = (pa.concat_tables(good).drop_columns(["source_file"]),
                      sorted(pa.concat_tables(bad).column("line_number").to_pylist()))
        assert (root / "truth" / f"{DAY}.jsonl").exists()
    assert days["parquet"][0].num_rows == 800 + 30 - 30 + 3   # duplicates are settled at publish
    assert days["parquet"][0].equals(days["jsonl"][0])
    assert days["parquet"][1] == days["jsonl"][1]
    assert (tmp_path / "jsonl" / "truth" / f"{DAY}.jsonl").read_bytes() == \
        (tmp_path / "parquet" / "truth" / f"{DAY}.jsonl").read_bytes()


def test_the_generator_takes_parquet_or_jsonl_and_gzip_only_for_jsonl(tmp_path):
    from watchlist_screening.generator.generator_config import GeneratorConfig

    with pytest.raises(ValueError, match="gzip airports are for the jsonl format only"):
        GeneratorConfig(landing_dir=tmp_path, dates=(DAY,), format="parquet", gzip_airports=frozenset({"LHR"}))
    with pytest.raises(ValueError, match="format must be one of jsonl, parquet"):
        GeneratorConfig(landing_dir=tmp_path, dates=(DAY,), format="csv")


# --- Hypothesis: arbitrary Parquet tables --------------------------------------------------

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_EMBEDDINGS = {"good": EMBEDDING, "short": EMBEDDING[:127], "long": EMBEDDING + [1.0], "zero": [0.0] * 128,
               "nan": EMBEDDING[:127] + [math.nan], "inf": [math.inf] + EMBEDDING[1:], "null": None,
               "hole": [None] + EMBEDDING[1:], "huge": [1e300] * 128, "empty": []}
# Parquet text is UTF-8: no lone surrogates
_TEXT_VALUES = st.one_of(st.sampled_from(["AMS", "CDG", "S1", "F", "M", "hazel", "arrival", "1980-02-29",
                                          "2026-03-01T08:15:00Z", "2026-03-01T23:59:59.999999-00:30", ""]),
                         awkward_text.map(lambda t: t.encode("utf-8", "replace").decode()), st.none())


@st.composite
def columns(draw, field, forced: pa.DataType | None = None):
    """(Arrow type, values) for one field: of an allowed type or not (or of the `forced`
    one), values good or not."""
    if field.kind.value == "embedding":
        kind = forced or draw(st.sampled_from([pa.list_(pa.float32()), pa.list_(pa.float64()), pa.large_list(pa.float64()),
                                     pa.list_(pa.int64()), pa.string(), pa.list_(pa.string())]))
        if pa.types.is_string(kind):
            return kind, lambda n: draw(st.lists(_TEXT_VALUES, min_size=n, max_size=n))
        names = lambda n: draw(st.lists(st.sampled_from(sorted(_EMBEDDINGS)), min_size=n, max_size=n))

        def embeddings(n):
            values = [_EMBEDDINGS[k] for k in names(n)]
            if pa.types.is_integer(kind.value_type):
                return [None if v is None else [None if x is None or not abs(x) < 1e6 else int(x * 5) for x in v]
                        for v in values]
            if pa.types.is_string(kind.value_type):
                return [None if v is None else [None if x is None else str(x) for x in v] for v in values]
            return values
        return kind, embeddings
    if field.kind.value == "number":
        kind = forced or draw(st.sampled_from([pa.float64(), pa.float32(), pa.int64(), pa.int8(), pa.string(), pa.bool_(),
                                     pa.decimal128(10, 2)]))
        values = {pa.string(): _TEXT_VALUES, pa.bool_(): st.booleans() | st.none(),
                  pa.int8(): st.integers(-128, 127) | st.none(), pa.int64(): st.integers(-2**63, 2**63 - 1) | st.none(),
                  pa.decimal128(10, 2): st.sampled_from([None, 170, 49.99, 260, 260.01]).map(
                      lambda v: None if v is None else __import__("decimal").Decimal(str(v)))}.get(
            kind, st.floats(width=32 if kind == pa.float32() else 64) | st.sampled_from([170.0, 50.0, 260.0]) | st.none())
        return kind, lambda n: draw(st.lists(values, min_size=n, max_size=n))
    if field.kind.value in ("date", "datetime"):
        kind = forced or draw(st.sampled_from([pa.string(), pa.date32(), pa.timestamp("us", "UTC"), pa.timestamp("ms"),
                                     pa.timestamp("s", "UTC")]))
        if pa.types.is_date32(kind):
            values = st.dates(date(1, 1, 1), date(9999, 12, 31)) | st.just(DAY) | st.none()
        elif pa.types.is_timestamp(kind):
            values = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)) | st.just(datetime(2026, 3, 1, 5)) | st.none()
            values = values.map(lambda v: v if v is None or kind.tz is None else v.replace(tzinfo=timezone.utc))
        else:
            values = _TEXT_VALUES
        return kind, lambda n: draw(st.lists(values, min_size=n, max_size=n))
    kind = forced or draw(st.sampled_from([pa.string(), pa.string(), pa.string(), pa.large_string(), pa.int32(), pa.binary()]))
    if pa.types.is_integer(kind):
        values = st.integers(-5, 5) | st.none()
    elif pa.types.is_binary(kind):
        values = st.binary(max_size=5) | st.none()
    else:
        values = _TEXT_VALUES | st.sampled_from(["x", "é", "\x00"]).flatmap(
            lambda ch: st.sampled_from([127, 128, 129, 200, 201]).map(lambda k: ch * k))
    return kind, lambda n: draw(st.lists(values, min_size=n, max_size=n))


def _base(field) -> tuple[pa.DataType, object]:
    kind = TYPES.get(field.name, pa.string())
    value = _value(ROW.get(field.name), kind)
    if field.name == "direction":
        value = "arrival"
    return kind, value


@st.composite
def parquet_tables(draw) -> pa.Table:
    """Mostly a good file's columns with some rows changed, some columns of any type,
    some absent: good rows and every reason show up (the events say how often)."""
    n = draw(st.integers(0, 6))
    changed = draw(st.sets(st.sampled_from([f.name for f in c.PASSENGER_FIELDS]), max_size=3))
    arrays = {}
    for field in c.PASSENGER_FIELDS:
        kind, base = _base(field)
        shape = draw(st.sampled_from(["rows", "rows", "any", "absent"])) if field.name in changed else "base"
        if shape == "absent":
            continue
        if shape == "any":
            kind, values = draw(columns(field))
            arrays[field.name] = pa.array(values(n), kind)
            continue
        values = [base] * n
        if shape == "rows":   # some rows of a column of the allowed type changed
            _, other = draw(columns(field, kind))
            keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            values = [base if k else o for k, o in zip(keep, other(n))]
        arrays[field.name] = pa.array(values, kind)
    if draw(st.booleans()):
        arrays["extra"] = pa.array([1] * n, pa.int64())
    with tempfile.TemporaryDirectory() as tmp:   # a real Parquet round trip: what a reader gets
        path = Path(tmp) / "AMS.parquet"
        pq.write_table(pa.table(arrays) if arrays else pa.table({"extra": pa.array([1] * n)}), path,
                       row_group_size=draw(st.integers(1, 4)))
        read = pq.read_table(path)
    return read.append_column(ROW_INDEX, pa.array(range(read.num_rows), pa.int64()))


@FUZZ
@given(t=parquet_tables())
def test_any_parquet_table_ends_as_rows_or_quarantine(t):
    good, bad, reasons = [], [], []
    for batch in t.to_batches(max_chunksize=4):
        done = finish_rows(batch, SOURCE, PASSENGERS)
        good += done.good.column("source_line").to_pylist()
        bad += done.bad.column("line_number").to_pylist()
        reasons += done.bad.column("reason").to_pylist()
        for text in done.bad.column("raw_text").to_pylist() + done.bad.column("detail").to_pylist():
            assert "\x00" not in text
    assert sorted(good + bad) == list(range(1, t.num_rows + 1))   # each row once
    assert c.CHECK_DISAGREEMENT not in reasons                   # nothing refused that the reference passes
    # and nothing passed that the reference refuses
    day, airport = file_place(SOURCE)
    records = json_records(t, np.array(good, np.int64) - 1, c.PASSENGER_FIELDS)
    assert [record_problem(r, c.PASSENGER_FIELDS, day, airport) for r in records] == [None] * len(good)
    checked = check_columns(t, c.PASSENGER_FIELDS)
    assert len(checked.vectors) == int(checked.good.sum())
    for reason in set(reasons) | ({"good"} if good else set()):
        event(reason)
