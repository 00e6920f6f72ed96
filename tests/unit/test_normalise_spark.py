"""The job's two-tier checks (msgspec tier 1, reference tier 2) against the plain-Python
reference, line by line: which lines are good, the reason and detail of the others, and
every normalised value. Runs the tasks' reading and the real Arrow finishing step inside Spark's
Python workers (mapInArrow), so it also catches a broken PySpark install where Python UDFs
cannot run."""
from __future__ import annotations

import json
import os
import sys
from datetime import timezone

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from tests.unit.test_normalise_validate import (
    GOOD_PASSENGER_LINES, GOOD_WATCHLIST_LINES, PASSENGER, PASSENGER_CASES, WATCHLIST_CASES, line,
)
from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.batch_rows import finish
from watchlist_screening.normalise.landing import LandingFile
from watchlist_screening.normalise.lines import file_line_batches, file_sources
from watchlist_screening.normalise.records import PASSENGERS, WATCHLIST
from watchlist_screening.normalise.rules import (
    normalise_full_name, normalise_name, parse_date_time, parse_full_date, unit_vector,
)
from watchlist_screening.normalise.session import configure
from watchlist_screening.normalise.validate import check_line

# Beyond the validator's cases: lines that stress the two JSON parsers' differences.
TRICKY_PASSENGER_LINES = [
    line(PASSENGER, given_names="Zoë Ø'Brien", surname="Иванова-Smith", place_of_birth="Kraków"),
    line(PASSENGER, given_names="小明", surname="张", place_of_birth=None),
    line(PASSENGER, surname="A\u0000B"),
    line(PASSENGER, height_cm=1e400), line(PASSENGER).replace('"height_cm": 170.5', '"height_cm": 1' + "0" * 400),
    line(PASSENGER, face_embedding=[1e-200] * 128), line(PASSENGER, face_embedding=[1e151] * 128),
    line(PASSENGER, face_embedding=[1e200] * 128), line(PASSENGER, face_embedding=[[1]] * 128),
    line(PASSENGER, face_embedding=[True] * 128), line(PASSENGER, date_of_birth="0000-01-01"),
    line(PASSENGER, scanned_at="2026-03-01T08:15:00+25:00"), line(PASSENGER, scanned_at="2026-03-01T08:15:60Z"),
    line(PASSENGER, sex=None), line(PASSENGER, sex=1), line(PASSENGER, airport=["AMS"]),
    line(PASSENGER, scanned_at="2026-03-01 08:15:00Z"), line(PASSENGER, scanned_at="2026-03-01t08:15:00z"),
    line(PASSENGER, scanned_at="2026-03-01T08:15:00.123456789+02:00"), line(PASSENGER, scanned_at="2026-03-01T08:15Z"),
    line(PASSENGER, date_of_birth="1980-1-02"), line(PASSENGER, date_of_birth="19800229"),
    line(PASSENGER, airport="AMS\n"), line(PASSENGER, airport="ÅMS"), line(PASSENGER, height_cm=True),
    line(PASSENGER, direction=None, issuing_country=None), line(PASSENGER).replace('"sex": "F"', '"sex": "M", "sex": "F"'),
    "\ufeff" + line(PASSENGER), line(PASSENGER, face_embedding=[0] * 128), line(PASSENGER, extra_field={"a": 1}),
    line(PASSENGER, face_embedding=[float("nan")] * 128), line(PASSENGER, face_embedding=[None] * 128),
    line(PASSENGER, eye_colour="violet"),
    "{'scan_id': 'S1'}", '{"scan_id": "\\ud800"}', line(PASSENGER).replace("{", "{\t", 1),
    line(PASSENGER) + ",", " " + line(PASSENGER), "123", '"text"', "null",
]
PASSENGER_LINES = [raw for raw, *_ in PASSENGER_CASES] + GOOD_PASSENGER_LINES + TRICKY_PASSENGER_LINES
WATCHLIST_LINES = [raw for raw, *_ in WATCHLIST_CASES] + GOOD_WATCHLIST_LINES + [
    line(json.loads(GOOD_WATCHLIST_LINES[0]), given_names="Jöhn", aliases=[{"given_names": "Ёж", "surname": "Ли"}]),
    line(json.loads(GOOD_WATCHLIST_LINES[0]), aliases=[{"given_names": "A", "surname": 5}]),
    line(json.loads(GOOD_WATCHLIST_LINES[0]), aliases=None), line(json.loads(GOOD_WATCHLIST_LINES[0]), aliases=[]),
    line(json.loads(GOOD_WATCHLIST_LINES[0]), aliases=[{"given_names": "A", "surname": "B", "date_of_birth": None}]),
    line(json.loads(GOOD_WATCHLIST_LINES[0]), aliases=[{"given_names": "A", "surname": "B", "date_of_birth": "1-1-1"}]),
]


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = SparkSession.builder.master("local[2]").appName("test_normalise_spark").getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield configure(session)
    session.stop()


def _as_rows(finished) -> pa.RecordBatch:
    """Good and bad lines of a finished batch in one batch (for a single mapInArrow)."""
    good = finished.good.rename_columns(["source_file", "line_number", *finished.good.column_names[2:]])
    return pa.concat_tables([good, finished.bad], promote_options="default").combine_chunks().to_batches()[0]


def finished_rows(spark, tmp_path, raw_lines: list[str], dataset) -> list[dict]:
    """The lines through a landing file, Spark (file_sources) and, in the Python workers,
    the tasks' reading and batch_rows.py."""
    assert not any("\n" in raw or "\r" in raw for raw in raw_lines)
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(raw_lines) + "\n", encoding="utf-8")
    sources = file_sources(spark, [LandingFile("f.jsonl", path, path.stat().st_size)])

    def finish_files(batches):
        for batch in batches:
            for source in batch.to_pylist():
                for lines in file_line_batches(source):
                    yield _as_rows(finish(lines, dataset))

    # The finished schema, from the file finished on the driver.
    schema = from_arrow_schema(next(finish_files([sources.toArrow().to_batches()[0]])).schema)
    finished = sources.mapInArrow(finish_files, schema)
    return sorted((row.asDict() for row in finished.collect()), key=lambda row: row["line_number"])


def _expected_passenger(record: dict) -> dict:
    given, surname = normalise_name(record["given_names"]), normalise_name(record["surname"])
    return {"scan_id": record["scan_id"], "surname": record["surname"].replace("\x00", "\ufffd"),
            "given_names_norm": given, "surname_norm": surname,
            "full_name_norm": normalise_full_name(record["given_names"], record["surname"]),
            "place_of_birth_norm": normalise_name(record.get("place_of_birth")),
            "date_of_birth": parse_full_date(record["date_of_birth"]),
            "scanned_at": parse_date_time(record["scanned_at"]),
            "face_embedding": unit_vector([float(x) for x in record["face_embedding"]])}


def _as_compared(row: dict) -> dict:
    return {**{k: row[k] for k in ("scan_id", "surname", "given_names_norm", "surname_norm", "full_name_norm",
                                   "place_of_birth_norm", "date_of_birth")},
            "scanned_at": row["scanned_at"].replace(tzinfo=timezone.utc),   # Spark hands back naive UTC
            "face_embedding": list(row["face_embedding"])}


def test_passenger_lines_match_the_reference(spark, tmp_path):
    rows = finished_rows(spark, tmp_path, PASSENGER_LINES, PASSENGERS)
    assert len(rows) == len(PASSENGER_LINES)
    for raw, row in zip(PASSENGER_LINES, rows):
        record, problem = check_line(raw, c.PASSENGER_FIELDS)
        if problem:
            assert (row["reason"], row["detail"]) == (problem.reason, problem.detail), raw[:120]
            assert row["raw_text"] == raw.replace("\x00", "\ufffd") and row["scan_id"] is None
        else:
            assert row["reason"] is None and row["raw_text"] is None, (raw[:120], row["detail"])
            assert _as_compared(row) == _expected_passenger(record), raw[:120]


def test_watchlist_lines_match_the_reference(spark, tmp_path):
    rows = finished_rows(spark, tmp_path, WATCHLIST_LINES, WATCHLIST)
    for raw, row in zip(WATCHLIST_LINES, rows):
        record, problem = check_line(raw, c.WATCHLIST_FIELDS)
        if problem:
            assert (row["reason"], row["detail"]) == (problem.reason, problem.detail), raw[:120]
            continue
        aliases = record.get("aliases") or []
        names = [normalise_full_name(record["given_names"], record["surname"]),
                 *(normalise_full_name(a["given_names"], a["surname"]) for a in aliases)]
        dobs = [d for d in [record.get("date_of_birth"), *(a.get("date_of_birth") for a in aliases)] if d]
        assert row["reason"] is None, (raw[:120], row["detail"])
        assert row["all_names_norm"] == [n for n in names if n]
        assert [d.isoformat() for d in row["all_dobs"]] == dobs
        assert json.loads(row["aliases"]) == aliases


def test_a_file_bigger_than_its_share_of_the_cores_is_read_by_several_tasks(spark, tmp_path):
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    big.write_text("\n".join(line(PASSENGER, scan_id=f"S{i}") for i in range(1, 401)) + "\n", encoding="utf-8")
    small.write_text(line(PASSENGER) + "\n", encoding="utf-8")
    files = [LandingFile(p.name, p, p.stat().st_size) for p in (small, big)]
    sources = file_sources(spark, files, min_part_bytes=big.stat().st_size // 8)
    assert sum(1 for row in sources.collect() if row.source_file == "big.jsonl") > 2

    def numbered(batches):
        for batch in batches:
            for source in batch.to_pylist():
                for lines in file_line_batches(source):
                    scan_ids = [json.loads(text)["scan_id"] for text in lines.column("text").to_pylist()]
                    yield pa.RecordBatch.from_arrays([lines.column("source_file"), lines.column("line_number"),
                                                      pa.array(scan_ids)], names=["file", "line", "scan_id"])

    got = sorted(tuple(row) for row in sources.mapInArrow(numbered, "file string, line int, scan_id string").collect())
    assert got == sorted([("big.jsonl", n, f"S{n}") for n in range(1, 401)] + [("small.jsonl", 1, PASSENGER["scan_id"])])
