"""Issue 13 through the real job (spark-submit into a real warehouse): a hostile or
careless feed cannot fail the day, leak a file through a link, or lose a wanted person
for a note. Every day-folder entry that is not an airport file is a counted file-level
quarantine entry; every bounded value within the bounds arrives intact."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
DAY = "2031-07-08"
FOLDER = f"passengers/{DAY}"
SECRET = "PGPASSWORD=hunter2-do-not-leak"
EMBEDDING = [((i * 37) % 11 - 5) / 5 for i in range(128)]


def passenger(scan_id: str, airport: str = "AMS", **changes) -> str:
    record = {"scan_id": scan_id, "airport": airport, "scanned_at": f"{DAY}T08:30:00Z", "given_names": "Zoë",
              "surname": "Dvořák", "date_of_birth": "1980-02-29", "sex": "F", "height_cm": 170,
              "eye_colour": "blue", "face_embedding": EMBEDDING, **changes}
    return json.dumps(record, ensure_ascii=False)


def subject(subject_id: str, **changes) -> str:
    record = {"subject_id": subject_id, "given_names": "Ivan", "surname": "Petrov", "sex": "M", "height_cm": 180,
              "eye_colour": "grey", "face_embedding": EMBEDDING, **changes}
    return json.dumps(record, ensure_ascii=False)


LONG_ID = "S-" + "é" * 126                 # 128 characters: at the bound, must arrive intact
LONG_NAME = "Ø" * 200
# AMS.jsonl, line by line: (line, reason or None for a passenger)
AMS = [
    (passenger("AMS-1"), None),
    ("[" * 2048, "too_deep"),                                             # RecursionError failed the day
    (passenger("AMS-3", surname="Smi\u0000th"), "nul_character"),         # became 'Smi\ufffdth'
    (passenger("AMS-4\u0000"), "bad_pattern"),
    (passenger("S" * 129), "too_long"),
    (passenger("AMS-6", given_names="x" * 201), "too_long"),
    (passenger("AMS-7", scanned_at="2031-07-07T23:59:59Z"), "wrong_day"),
    (passenger("AMS-8", scanned_at="2031-07-09T01:00:00+02:00"), None),   # 2031-07-08 23:00 UTC
    (passenger("AMS-9", airport="CDG"), "wrong_airport"),
    (passenger(LONG_ID, surname=LONG_NAME, document_number="D" * 200), None),
    ('{"scan_id": "AMS-11", "x": ' + "{\"a\": " * 3000, "too_deep"),
]
# entry -> reason: none of these is read
ENTRIES = {"ZZZ.jsonl": "symbolic_link", "DNG.jsonl": "symbolic_link", "L H R.jsonl": "bad_file_name",
           "..jsonl": "bad_file_name", "ams.jsonl": "bad_file_name", "MAD.json": "bad_file_name",
           "FRA.jsonl.bak": "bad_file_name", "SUB": "not_a_file", "OSL.parquet": "bad_parquet"}


@pytest.fixture(scope="module")
def warehouse_dsn(stack_db):
    from tests.conftest import migrated_database

    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("feed")
    secret = root / "stack.env"              # outside the landing folder, like .local/stack.env
    secret.write_text(SECRET + "\n")
    landing = root / "landing"
    (landing / "watchlist").mkdir(parents=True)
    watchlist = [subject("W1", offence="o" * 2500, caution="armed"), subject("W" * 129),
                 subject("W3", aliases=[{"given_names": "A", "surname": "B"}] * 51), "{" * 4000,
                 subject("W" + "ü" * 127, given_names=LONG_NAME, caution="c" * 2000)]
    (landing / "watchlist" / "watchlist.jsonl").write_text("\n".join(watchlist) + "\n", encoding="utf-8")
    folder = landing / FOLDER
    folder.mkdir(parents=True)
    (folder / "AMS.jsonl").write_text("\n".join(text for text, _ in AMS) + "\n", encoding="utf-8")
    (folder / "CDG.jsonl.gz").write_bytes(gzip.compress((passenger("CDG-1", "CDG") + "\n").encode()))
    (folder / "ZZZ.jsonl").symlink_to(secret)
    (folder / "DNG.jsonl").symlink_to(root / "gone")
    for name in ("L H R.jsonl", "..jsonl", "ams.jsonl", "MAD.json", "FRA.jsonl.bak"):
        (folder / name).write_text(passenger("X-" + name) + "\n" + SECRET + "\n")
    (folder / "SUB").mkdir()
    (folder / "SUB" / "AMS.jsonl").write_text(SECRET + "\n")
    (folder / "OSL.parquet").write_bytes(b"PAR1" + SECRET.encode() + b"PAR1")
    return landing


def run_job(landing: Path, dsn: str, day: str = DAY) -> tuple[int, dict | None, str]:
    env = {**os.environ, "WAREHOUSE_DSN": dsn, "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
           "PYSPARK_PYTHON": str(VENV_BIN / "python")}
    env.pop("WATCHLIST_MAX_QUARANTINE_SHARE", None)
    done = subprocess.run(["spark-submit", "--master", "local[2]", str(REPO_ROOT / "spark" / "normalise_day.py"),
                           "--date", day, "--landing-dir", str(landing), "--max-quarantine-share", "1"],
                          env=env, capture_output=True, text=True, timeout=900)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return done.returncode, (json.loads(last) if last.startswith("{") else None), done.stdout + done.stderr


def query(dsn: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def run(landing, warehouse_dsn):
    code, summary, output = run_job(landing, warehouse_dsn)
    assert code == 0, output[-4000:]
    return summary, output


def test_the_day_finishes_and_every_line_and_entry_is_accounted_for(run, warehouse_dsn):
    summary, _ = run
    good_ams = [i for i, (_, reason) in enumerate(AMS, 1) if reason is None]
    assert summary["passengers"] == len(good_ams) + 1
    expected = {}
    for _, reason in AMS:
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    for reason in ENTRIES.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert summary["quarantined_by_reason"] == expected
    assert summary["quarantined"] == sum(expected.values())
    rows = query(warehouse_dsn, "SELECT source_file, line_number, reason, detail, raw_text FROM warehouse.quarantine "
                                "WHERE dataset = 'passengers' AND scan_day = %s", DAY)
    lines = sorted((r[1], r[2]) for r in rows if r[0] == f"{FOLDER}/AMS.jsonl")
    assert lines == [(i, reason) for i, (_, reason) in enumerate(AMS, 1) if reason]
    entries = {r[0].split("/", 2)[2]: (r[1], r[2], r[4]) for r in rows if r[0] != f"{FOLDER}/AMS.jsonl"}
    assert entries == {name: (0, reason, "") for name, reason in ENTRIES.items()}   # never read
    summaries = {f["file"]: f for f in summary["files"]}
    assert summaries[f"{FOLDER}/ZZZ.jsonl"]["quarantined_by_reason"] == {"symbolic_link": 1}
    assert summaries[f"{FOLDER}/AMS.jsonl"]["lines"] == len(AMS)
    day_run = query(warehouse_dsn, "SELECT passengers, quarantined, quarantined_by_reason FROM warehouse.day_runs "
                                   "WHERE scan_day = %s", DAY)
    assert day_run == [(summary["passengers"], summary["quarantined"], expected)]


def test_nothing_behind_a_link_or_in_an_unread_entry_reaches_the_warehouse(run, warehouse_dsn):
    _, output = run
    everything = query(warehouse_dsn, "SELECT raw_text || detail || source_file FROM warehouse.quarantine")
    assert not [text for (text,) in everything if "hunter2" in text]
    assert query(warehouse_dsn, "SELECT count(*) FROM warehouse.passengers WHERE scan_id LIKE 'X-%%'") == [(0,)]
    assert "hunter2" not in output


def test_values_at_the_bounds_arrive_intact_and_nul_is_not_replaced(run, warehouse_dsn):
    assert query(warehouse_dsn, "SELECT surname, document_number FROM warehouse.passengers WHERE scan_id = %s",
                 LONG_ID) == [(LONG_NAME, "D" * 200)]
    assert query(warehouse_dsn, "SELECT count(*) FROM warehouse.passengers WHERE surname LIKE %s", "%\ufffd%") == [(0,)]
    details = dict(query(warehouse_dsn, "SELECT line_number, detail FROM warehouse.quarantine "
                                        "WHERE source_file = %s", f"{FOLDER}/AMS.jsonl"))
    assert details[3] == "field 'surname' contains a NUL character (\\u0000) at character 4"
    assert details[5] == "field 'scan_id' is 129 characters long, at most 128 allowed"
    assert details[9] == "field 'airport' is 'CDG', but the file is AMS's"


def test_a_wanted_person_is_never_dropped_for_a_note(run, warehouse_dsn):
    summary, _ = run
    version = summary["watchlist_version"]
    subjects = query(warehouse_dsn, "SELECT subject_id, offence, caution, given_names FROM warehouse.watchlist "
                                    "WHERE version_id = %s ORDER BY source_line", version)
    assert subjects == [("W1", "o" * 2000, "armed", "Ivan"), ("W" + "ü" * 127, None, "c" * 2000, LONG_NAME)]
    quarantine = query(warehouse_dsn, "SELECT line_number, reason, detail FROM warehouse.quarantine "
                                      "WHERE dataset = 'watchlist' AND watchlist_version = %s ORDER BY line_number",
                       version)
    assert quarantine == [
        (1, "text_cut", "field 'offence' is 2500 characters long: kept, cut to the first 2000 (the entry is loaded)"),
        (2, "too_long", "field 'subject_id' is 129 characters long, at most 128 allowed"),
        (3, "too_long", "field 'aliases' has 51 items, at most 50 allowed"),
        (4, "too_deep", "line nests arrays or objects more than 64 levels deep")]
    # the warning is about a loaded entry: not counted as a quarantined line
    assert query(warehouse_dsn, "SELECT row_count, quarantined FROM warehouse.watchlist_versions "
                                "WHERE version_id = %s", version) == [(2, 3)]


def test_a_linked_day_folder_is_one_entry_and_an_empty_day(run, landing, warehouse_dsn, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "AMS.jsonl").write_text(passenger("AMS-1", scanned_at="2031-07-09T08:00:00Z") + "\n")
    (landing / "passengers" / "2031-07-09").symlink_to(elsewhere, target_is_directory=True)
    code, summary, output = run_job(landing, warehouse_dsn, "2031-07-09")
    assert code == 0, output[-4000:]
    assert (summary["passengers"], summary["quarantined_by_reason"]) == (0, {"symbolic_link": 1})
    assert query(warehouse_dsn, "SELECT source_file, line_number, reason FROM warehouse.quarantine "
                                "WHERE scan_day = '2031-07-09'") == [("passengers/2031-07-09", 0, "symbolic_link")]
