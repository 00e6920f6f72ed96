"""Parquet landing files through the real job (spark-submit into a real warehouse), beside
a JSONL airport: good rows published as a line with the same values would be; bad rows
quarantined with their row number and the JSONL path's reasons; a truncated file, one
with damaged pages behind a sound footer, and columns of types the contract does not allow never fail the day; ISO-text dates and
times give the same rows as date32 and timestamps. And the generator's Parquet day
publishes the rows of its JSONL day (same seed)."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.test_feed_spark_job import (  # noqa: F401 (warehouse_dsn: the module's own database)
    EMBEDDING, passenger, query, run_job, subject, warehouse_dsn,
)

pytestmark = pytest.mark.integration

DAY = "2031-07-08"
FOLDER = f"passengers/{DAY}"
TYPED = {"scanned_at": pa.timestamp("us", "UTC"), "date_of_birth": pa.date32(), "height_cm": pa.float64(),
         "face_embedding": pa.list_(pa.float32())}
FIELDS = ("scan_id", "airport", "scanned_at", "given_names", "surname", "date_of_birth", "sex", "height_cm",
          "eye_colour", "face_embedding")


def record(scan_id: str, airport: str, **changes) -> dict:
    return {**json.loads(passenger(scan_id, airport)), **changes}


def _typed(value, kind):
    if isinstance(value, str) and pa.types.is_timestamp(kind):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, str) and pa.types.is_date32(kind):
        return date.fromisoformat(value)
    return value


def write_parquet(path: Path, records: list[dict], types: dict, **options) -> None:
    columns = {name: pa.array([_typed(r.get(name), types.get(name, pa.string())) for r in records],
                              types.get(name, pa.string())) for name in FIELDS}
    pq.write_table(pa.table(columns), path, **options)


# OSL.parquet, typed as the contract says: (row, reason or None for a passenger)
OSL = [
    (record("OSL-1", "OSL"), None),
    (record("OSL-2", "OSL", scanned_at="2031-07-07T23:59:59Z"), "wrong_day"),
    (record("OSL-3", "AMS"), "wrong_airport"),
    (record("S" * 129, "OSL"), "too_long"),
    (record("OSL-5\u0000", "OSL"), "bad_pattern"),
    (record("OSL-6", "OSL", surname="Smi\u0000th"), "nul_character"),
    (record("OSL-7", "OSL", face_embedding=EMBEDDING[:127]), "bad_embedding"),
    (record("OSL-8", "OSL", face_embedding=EMBEDDING[:127] + [float("inf")]), "bad_embedding"),
    (record("OSL-9", "OSL", height_cm=300.0), "out_of_range"),
    (record("AMS-1", "OSL"), "duplicate_scan_id"),             # AMS.jsonl line 1 has it first
    (record("OSL-11", "OSL", sex=None), "missing_field"),
    (record("OSL-12", "OSL", scanned_at="2031-07-09T01:00:00+02:00"), None),   # 23:00 UTC on the day
    (record("OSL-13", "OSL", eye_colour="violet"), "bad_enum"),
]
# SVG.parquet: dates and times as ISO text (both allowed)
SVG = [
    (record("SVG-1", "SVG"), None),
    (record("SVG-2", "SVG", date_of_birth="1980-02-30"), "bad_date"),
    (record("SVG-3", "SVG", scanned_at="2031-07-08 08:30:00Z"), "bad_datetime"),
    (record("SVG-4", "SVG", scanned_at="2031-07-08T10:30:00.5+02:00"), None),
]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("parquet") / "landing"
    (landing / "watchlist").mkdir(parents=True)
    (landing / "watchlist" / "watchlist.jsonl").write_text(subject("W1") + "\n" + subject("W2") + "\n")
    folder = landing / FOLDER
    folder.mkdir(parents=True)
    (folder / "AMS.jsonl").write_text("\n".join([passenger("AMS-1"), passenger("AMS-2"), "{not json"]) + "\n")
    write_parquet(folder / "OSL.parquet", [r for r, _ in OSL], TYPED, row_group_size=4)
    write_parquet(folder / "SVG.parquet", [r for r, _ in SVG], {"height_cm": pa.int64(),
                                                                 "face_embedding": pa.list_(pa.float64())})
    # what pandas writes by default: nanosecond timestamps, which Spark only reads as numbers
    write_parquet(folder / "KRS.parquet", [record("KRS-1", "KRS"), record("KRS-2", "KRS")],
                  {**TYPED, "scanned_at": pa.timestamp("ns", "UTC")})
    # the wrong column types: each row quarantined, named by the first field that is wrong
    write_parquet(folder / "BGO.parquet", [record("BGO-1", "BGO", height_cm="180", face_embedding="[0.1]"),
                                           record("BGO-2", "BGO", height_cm="tall", face_embedding="x")],
                  {"scanned_at": pa.timestamp("us", "UTC"), "date_of_birth": pa.date32()})
    write_parquet(folder / "EMP.parquet", [], TYPED)
    write_parquet(folder / "TRD.parquet", [record(f"TRD-{i}", "TRD") for i in range(50)], TYPED)
    whole = (folder / "TRD.parquet").read_bytes()
    (folder / "TRD.parquet").write_bytes(whole[:len(whole) // 2])   # cut short in transfer
    # a sound footer over damaged pages: only reading the rows finds out
    write_parquet(folder / "HAM.parquet", [record(f"HAM-{i}", "HAM") for i in range(50)], TYPED)
    damaged = bytearray((folder / "HAM.parquet").read_bytes())
    damaged[4:68] = b"\xff" * 64
    (folder / "HAM.parquet").write_bytes(bytes(damaged))
    return landing


@pytest.fixture(scope="module")
def run(landing, warehouse_dsn):
    code, summary, output = run_job(landing, warehouse_dsn, DAY)
    assert code == 0, output[-4000:]
    return summary, output


def _expected_bad() -> list[tuple[str, int, str]]:
    bad = [(f"{FOLDER}/AMS.jsonl", 3, "not_json")]
    bad += [(f"{FOLDER}/OSL.parquet", n, reason) for n, (_, reason) in enumerate(OSL, 1) if reason]
    bad += [(f"{FOLDER}/SVG.parquet", n, reason) for n, (_, reason) in enumerate(SVG, 1) if reason]
    bad += [(f"{FOLDER}/BGO.parquet", n, "wrong_type") for n in (1, 2)]
    bad += [(f"{FOLDER}/TRD.parquet", 0, "bad_parquet"), (f"{FOLDER}/HAM.parquet", 0, "bad_parquet")]
    return sorted(bad)


def test_the_day_publishes_the_good_rows_of_every_format(run, warehouse_dsn):
    summary, _ = run
    published = sorted(r[0] for r in query(warehouse_dsn, "SELECT scan_id FROM warehouse.passengers "
                                                          "WHERE scan_day = %s", DAY))
    assert published == sorted(["AMS-1", "AMS-2", "OSL-1", "OSL-12", "SVG-1", "SVG-4", "KRS-1", "KRS-2"])
    assert summary["passengers"] == len(published)


def test_bad_rows_are_quarantined_with_their_row_number_and_reason(run, warehouse_dsn):
    summary, _ = run
    rows = query(warehouse_dsn, "SELECT source_file, line_number, reason, detail, raw_text FROM warehouse.quarantine "
                                "WHERE dataset = 'passengers' AND scan_day = %s", DAY)
    assert sorted((r[0], r[1], r[2]) for r in rows) == _expected_bad()
    by_key = {(r[0].rsplit("/", 1)[1], r[1]): (r[3], r[4]) for r in rows}
    assert by_key[("OSL.parquet", 3)][0] == "field 'airport' is 'AMS', but the file is OSL's"
    assert by_key[("OSL.parquet", 10)][0] == f"scan_id 'AMS-1' already seen in {FOLDER}/AMS.jsonl line 1"
    assert json.loads(by_key[("OSL.parquet", 10)][1])["scan_id"] == "AMS-1"     # the row, as JSON
    assert json.loads(by_key[("OSL.parquet", 2)][1])["scanned_at"] == "2031-07-07T23:59:59+00:00"
    assert by_key[("OSL.parquet", 6)][0] == "field 'surname' contains a NUL character (\\u0000) at character 4"
    assert by_key[("BGO.parquet", 1)][0] == "field 'height_cm' must be a number, got string"
    assert by_key[("SVG.parquet", 2)][0] == "field 'date_of_birth' is not a valid YYYY-MM-DD date: '1980-02-30'"
    for name in ("TRD.parquet", "HAM.parquet"):
        detail, raw = by_key[(name, 0)]
        assert detail.startswith("not a readable Parquet file: ") and raw == ""
    assert query(warehouse_dsn, "SELECT count(*) FROM warehouse.passengers WHERE scan_id LIKE 'HAM-%%'") == [(0,)]
    expected: dict[str, int] = {}
    for _, _, reason in _expected_bad():
        expected[reason] = expected.get(reason, 0) + 1
    assert summary["quarantined_by_reason"] == expected
    files = {f["file"].rsplit("/", 1)[1]: f for f in summary["files"]}
    assert (files["OSL.parquet"]["lines"], files["OSL.parquet"]["passengers"]) == (len(OSL), 2)
    assert (files["EMP.parquet"]["lines"], files["TRD.parquet"]["quarantined_by_reason"]) == (0, {"bad_parquet": 1})


def test_text_dates_times_and_nanoseconds_give_the_rows_typed_columns_give(run, warehouse_dsn):
    columns = "scanned_at, date_of_birth, height_cm, given_names_norm, surname_norm, face_embedding"
    typed = query(warehouse_dsn, f"SELECT {columns} FROM warehouse.passengers WHERE scan_id = 'AMS-2'")
    for scan_id in ("SVG-1", "KRS-1", "OSL-1"):
        assert query(warehouse_dsn, f"SELECT {columns} FROM warehouse.passengers WHERE scan_id = %s",
                     scan_id)[0][:5] == typed[0][:5]
    [(at,)] = query(warehouse_dsn, "SELECT scanned_at FROM warehouse.passengers WHERE scan_id = 'SVG-4'")
    assert at == datetime(2031, 7, 8, 8, 30, 0, 500000, tzinfo=timezone.utc)
    # the JSONL line's doubles and the Parquet float64s are the same numbers: same unit vector
    [(a,), (b,)] = query(warehouse_dsn, "SELECT face_embedding FROM warehouse.passengers "
                                        "WHERE scan_id IN ('AMS-2', 'SVG-1') ORDER BY scan_id")
    assert a == b


def test_the_generators_parquet_day_publishes_the_rows_of_its_jsonl_day(tmp_path, stack_db):
    from tests.conftest import migrated_database
    from watchlist_screening.generator.cli import main as generate

    published = {}
    for form in ("jsonl", "parquet"):
        root = tmp_path / form
        generate(["--landing-dir", str(root), "--date", DAY, "--watchlist-size", "40", "--passengers-per-airport",
                  "300", "--sightings", "4", "--bad-lines", "20", "--seed", "11", "--format", form])
        with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
            code, summary, output = run_job(root, dsn, DAY)
            assert code == 0, output[-4000:]
            rows = query(dsn, "SELECT scan_id, airport, scanned_at, direction, flight_number, given_names, surname, "
                              "full_name_norm, date_of_birth, sex, height_cm, eye_colour, face_embedding, source_line "
                              "FROM warehouse.passengers WHERE scan_day = %s ORDER BY scan_id", DAY)
            lines = query(dsn, "SELECT source_file, line_number FROM warehouse.quarantine "
                               "WHERE scan_day = %s ORDER BY 1, 2", DAY)
        published[form] = (summary["passengers"], summary["quarantined"], rows,
                           [(f.rsplit(".", 1)[0].removesuffix(".jsonl"), n) for f, n in lines])
    assert published["parquet"][:2] == (600, 20)   # bad lines come on top of the passengers
    assert published["parquet"] == published["jsonl"]
