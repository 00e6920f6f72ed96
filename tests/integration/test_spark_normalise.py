"""spark/normalise_day.py end to end: spark-submit into a real warehouse. Every line of a
dirty day ends up as a passenger or a quarantine row; re-runs replace the day; late files
are picked up; the watchlist loads once per content; an empty day is fine; too many bad
lines fail the run after writing them."""
from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
DAY = "2031-05-06"
RNG = random.Random(11)


def embedding(size: int = 128) -> list[float]:
    return [RNG.uniform(-1, 1) for _ in range(size)]


def passenger(scan_id: str, airport: str = "AMS", **changes) -> str:
    record = {"scan_id": scan_id, "airport": airport, "scanned_at": f"{DAY}T08:30:00+02:00", "direction": "arrival",
              "given_names": "José", "surname": "Dvořák", "date_of_birth": "1980-02-29", "sex": "M",
              "height_cm": 181.5, "eye_colour": "brown", "face_embedding": embedding(), **changes}
    return json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False)


# AMS.jsonl: (line, reason) of each bad line; every other line is good.
AMS_BAD = {
    3: ("not_json", '{"scan_id": "AMS-x", "airport": "AM'),
    5: ("not_object", "[1, 2, 3]"),
    7: ("missing_field", passenger("AMS-7", surname=None)),
    9: ("wrong_type", passenger("AMS-9", height_cm="181")),
    11: ("empty_string", passenger("")),
    13: ("bad_date", passenger("AMS-13", date_of_birth="1980-13-45")),
    15: ("bad_datetime", passenger("AMS-15", scanned_at="yesterday 8am")),
    17: ("out_of_range", passenger("AMS-17", height_cm=900)),
    19: ("bad_embedding", passenger("AMS-19", face_embedding=embedding(127))),
    21: ("bad_enum", passenger("AMS-21", sex="male")),
    23: ("bad_pattern", passenger("AMS-23", airport="ams")),
    25: ("duplicate_scan_id", passenger("AMS-2")),
}
AMS_LINES = 60
CDG_LINES = 30   # CDG.jsonl.gz; its last line repeats AMS-4


def ams_line(number: int) -> str:
    return AMS_BAD[number][1] if number in AMS_BAD else passenger(f"AMS-{number}")


def write_watchlist(landing: Path, extra_subjects: int = 0) -> None:
    subjects = [
        {"subject_id": "W1", "given_names": "Иван", "surname": "Петров", "sex": "M", "height_cm": 180,
         "eye_colour": "grey", "face_embedding": embedding(), "date_of_birth": "1971-03-04",
         "aliases": [{"given_names": "John", "surname": "Peters", "date_of_birth": "1970-05-06"}]},
        {"subject_id": "W2", "given_names": "Zoë", "surname": "Nguyễn", "sex": "F", "height_cm": 165,
         "eye_colour": "hazel", "face_embedding": embedding()},
        *({"subject_id": f"W{3 + i}", "given_names": "A", "surname": "B", "sex": "X", "height_cm": 170,
           "eye_colour": "other", "face_embedding": embedding()} for i in range(extra_subjects)),
    ]
    lines = [json.dumps(s, ensure_ascii=False) for s in subjects] + ["{broken", json.dumps(subjects[1])]
    (landing / "watchlist").mkdir(exist_ok=True)
    (landing / "watchlist" / "watchlist.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def warehouse_dsn(stack_db):
    """This module counts every watchlist version and row: a database of its own."""
    from tests.conftest import migrated_database

    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    write_watchlist(root)
    day = root / "passengers" / DAY
    day.mkdir(parents=True)
    ams = "\n".join(ams_line(n) for n in range(1, AMS_LINES + 1)) + "\n"
    (day / "AMS.jsonl").write_bytes(ams.encode() + b'{"scan_id": "\xff\xfe"}\n')   # + a line that is not UTF-8
    cdg = [passenger(f"CDG-{n}", "CDG") for n in range(1, CDG_LINES)] + [passenger("AMS-4", "CDG")]
    (day / "CDG.jsonl.gz").write_bytes(gzip.compress(("\n".join(cdg) + "\n").encode()))
    fra = gzip.compress(("\n".join(passenger(f"FRA-{n}", "FRA") for n in range(1, 41)) + "\n").encode())
    (day / "FRA.jsonl.gz").write_bytes(fra[: len(fra) * 2 // 3])
    (day / "LHR.jsonl").write_text("")
    (day / "notes.txt").write_text("not a feed file")
    return root


def run_job(landing: Path, dsn: str, day: str = DAY, *args: str) -> tuple[int, dict | None, str]:
    env = {**os.environ, "WAREHOUSE_DSN": dsn, "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
           "PYSPARK_PYTHON": str(VENV_BIN / "python")}
    env.pop("WATCHLIST_MAX_QUARANTINE_SHARE", None)
    done = subprocess.run(
        ["spark-submit", "--master", "local[2]",
         str(REPO_ROOT / "spark" / "normalise_day.py"), "--date", day, "--landing-dir", str(landing), *args],
        env=env, capture_output=True, text=True, timeout=900)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    # spark-submit merges the driver's stderr into stdout: the summary is the last line
    return done.returncode, (json.loads(last) if last.startswith("{") else None), done.stdout + done.stderr


def query(dsn: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


def day_rows(dsn: str) -> tuple[list, list]:
    passengers = query(dsn, "SELECT scan_id, source_file, source_line, full_name_norm, face_embedding "
                            "FROM warehouse.passengers WHERE scan_day = %s ORDER BY scan_id", DAY)
    quarantine = query(dsn, "SELECT source_file, line_number, raw_text, reason, detail FROM warehouse.quarantine "
                            "WHERE dataset = 'passengers' AND scan_day = %s ORDER BY source_file, line_number", DAY)
    return passengers, quarantine


@pytest.fixture(scope="module")
def first_run(landing, warehouse_dsn):
    code, summary, err = run_job(landing, warehouse_dsn)
    assert code == 0, err[-4000:]
    return summary


def test_every_line_is_a_passenger_or_quarantined(first_run, warehouse_dsn):
    passengers, quarantine = day_rows(warehouse_dsn)
    fra_kept = sum(1 for p in passengers if p[1].endswith("FRA.jsonl.gz"))
    ams = f"passengers/{DAY}/AMS.jsonl"
    expected = [(ams, line, reason) for line, (reason, _) in sorted(AMS_BAD.items())] + [(ams, AMS_LINES + 1, "not_utf8")]
    expected += [(f"passengers/{DAY}/CDG.jsonl.gz", CDG_LINES, "duplicate_scan_id"),
                 (f"passengers/{DAY}/FRA.jsonl.gz", fra_kept + 1, "truncated_gzip"),
                 (f"passengers/{DAY}/notes.txt", 0, "bad_file_name")]   # a file-level entry, not read
    assert [(q[0], q[1], q[3]) for q in quarantine] == expected
    assert 0 < fra_kept < 40
    raw_by_line = {q[1]: q[2] for q in quarantine if q[0] == ams}
    assert all(raw_by_line[line] == text for line, (_, text) in AMS_BAD.items())
    assert all(q[4] for q in quarantine)
    assert quarantine[-1][2] == ""   # notes.txt: its content is never read
    detail = {q[3]: q[4] for q in quarantine}
    assert detail["out_of_range"] == "field 'height_cm' is 900, outside 50..260"
    assert detail["duplicate_scan_id"] == f"scan_id 'AMS-4' already seen in {ams} line 4"

    good = AMS_LINES - len(AMS_BAD) + CDG_LINES - 1 + fra_kept
    assert len(passengers) == good == first_run["passengers"]
    assert first_run["quarantined"] == len(quarantine) == len(expected)
    by_reason = {}
    for _, _, reason in expected:
        by_reason[reason] = by_reason.get(reason, 0) + 1
    assert first_run["quarantined_by_reason"] == by_reason
    assert [f["file"] for f in first_run["files"]] == [f"passengers/{DAY}/{n}" for n in
                                                       ("AMS.jsonl", "CDG.jsonl.gz", "FRA.jsonl.gz", "LHR.jsonl",
                                                        "notes.txt")]
    assert first_run["files"][3]["lines"] == 0
    day_run = query(warehouse_dsn, "SELECT passengers, quarantined, quarantined_by_reason, watchlist_version "
                                   "FROM warehouse.day_runs WHERE scan_day = %s", DAY)
    assert day_run == [(good, len(expected), by_reason, first_run["watchlist_version"])]


def test_passenger_values_are_normalised(first_run, warehouse_dsn):
    row = query(warehouse_dsn, "SELECT source_file, source_line, surname, surname_norm, full_name_norm, scanned_at, "
                               "date_of_birth, height_cm, face_embedding FROM warehouse.passengers "
                               "WHERE scan_day = %s AND scan_id = 'AMS-2'", DAY)[0]
    assert row[:5] == (f"passengers/{DAY}/AMS.jsonl", 2, "Dvořák", "dvorak", "jose dvorak")
    assert row[5].isoformat() == f"{DAY}T06:30:00+00:00" and row[6].isoformat() == "1980-02-29"
    assert row[7] == 181.5 and len(row[8]) == 128
    assert sum(x * x for x in row[8]) == pytest.approx(1.0, rel=1e-5)


def test_watchlist_is_normalised_with_its_aliases(first_run, warehouse_dsn):
    rows = query(warehouse_dsn, "SELECT subject_id, full_name_norm, all_names_norm, all_dobs, aliases, source_line "
                                "FROM warehouse.watchlist ORDER BY subject_id")
    assert [(r[0], r[1], r[2], [d.isoformat() for d in r[3]], r[5]) for r in rows] == [
        ("W1", "ivan petrov", ["ivan petrov", "john peters"], ["1971-03-04", "1970-05-06"], 1),
        ("W2", "zoe nguyen", ["zoe nguyen"], [], 2)]
    assert rows[0][4] == [{"given_names": "John", "surname": "Peters", "date_of_birth": "1970-05-06"}]
    quarantined = query(warehouse_dsn, "SELECT line_number, reason FROM warehouse.quarantine "
                                       "WHERE dataset = 'watchlist' ORDER BY line_number")
    assert quarantined == [(3, "not_json"), (4, "duplicate_subject_id")]


def test_rerun_replaces_the_day_and_fails_above_the_allowed_share(first_run, landing, warehouse_dsn):
    before = day_rows(warehouse_dsn)
    code, summary, err = run_job(landing, warehouse_dsn, DAY, "--max-quarantine-share", "0.05")
    assert code == 3
    assert summary == first_run            # still written, still summarised
    assert "above the allowed 5.0%" in err and f"Worst file: passengers/{DAY}/AMS.jsonl" in err
    assert "not_json=" in err
    assert day_rows(warehouse_dsn) == before
    assert query(warehouse_dsn, "SELECT count(*) FROM warehouse.watchlist_versions") == [(1,)]


def test_late_file_and_new_watchlist_are_picked_up(first_run, landing, warehouse_dsn):
    (landing / "passengers" / DAY / "ZRH.jsonl").write_text(passenger("ZRH-1", "ZRH") + "\n")
    write_watchlist(landing, extra_subjects=1)
    code, summary, err = run_job(landing, warehouse_dsn)
    assert code == 0, err[-4000:]
    assert summary["passengers"] == first_run["passengers"] + 1
    assert summary["watchlist_version"] != first_run["watchlist_version"]
    assert query(warehouse_dsn, "SELECT count(*) FROM warehouse.watchlist_versions") == [(2,)]
    assert query(warehouse_dsn, "SELECT count(*) FROM warehouse.passengers WHERE scan_day = %s AND scan_id = 'ZRH-1'",
                 DAY) == [(1,)]
    assert query(warehouse_dsn, "SELECT watchlist_version FROM warehouse.day_runs WHERE scan_day = %s",
                 DAY) == [(summary["watchlist_version"],)]


def test_a_day_without_files_is_an_empty_day(first_run, landing, warehouse_dsn):
    code, summary, err = run_job(landing, warehouse_dsn, "2031-05-07")
    assert code == 0, err[-4000:]
    assert (summary["passengers"], summary["quarantined"], summary["files"]) == (0, 0, [])
    assert query(warehouse_dsn, "SELECT passengers FROM warehouse.day_runs WHERE scan_day = '2031-05-07'") == [(0,)]
    assert "sha256" in err   # the watchlist was reused, not reloaded
