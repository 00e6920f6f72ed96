"""Watchlist versions across days and days run side by side, with the real Spark job into
a warehouse of its own: an unchanged watchlist file is neither parsed nor loaded again;
a changed one becomes a new version, and the linkage of a day screened against it reads
only that version (a subject taken off the list is gone); two days normalised at the
same time both land whole."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.integration import test_spark_normalise as spark_job
from tests.integration.test_spark_normalise import embedding, passenger, query, run_job
from watchlist_screening.linkage.tables import load_tables

pytestmark = pytest.mark.integration

DAYS = ("2031-05-06", "2031-05-07", "2031-05-08")
# a database of this module's own, as there: it counts watchlist versions and partitions
warehouse_dsn = spark_job.warehouse_dsn


def subject(subject_id: str, **changes) -> dict:
    return {"subject_id": subject_id, "given_names": "Ана", "surname": "Šimić", "sex": "F", "height_cm": 168,
            "eye_colour": "green", "face_embedding": embedding(), **changes}


def write_watchlist(landing: Path, subjects: list[dict], bad_lines: list[str]) -> None:
    lines = [json.dumps(s, ensure_ascii=False) for s in subjects] + bad_lines
    (landing / "watchlist").mkdir(exist_ok=True)
    (landing / "watchlist" / "watchlist.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_day(landing: Path, day: str, airport: str, good: int) -> None:
    folder = landing / "passengers" / day
    folder.mkdir(parents=True, exist_ok=True)
    lines = [passenger(f"{airport}-{day}-{n}", airport, scanned_at=f"{day}T10:00:00Z") for n in range(good)]
    lines += [passenger(f"{airport}-{day}-eyes", airport, eye_colour="violet"),
              passenger(f"{airport}-{day}-nan", airport).replace('"face_embedding": [', '"face_embedding": [NaN, ', 1),
              passenger(f"{airport}-{day}-null", airport, face_embedding=[None] * 128)]
    (folder / f"{airport}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    # X is listed, Y too; one line fails validation (a height no person has)
    write_watchlist(root, [subject("X"), subject("Y")], [json.dumps(subject("Z", height_cm=400))])
    for day in DAYS:
        write_day(root, day, "OSL", good=20)
    return root


@pytest.fixture(scope="module")
def runs(landing, warehouse_dsn) -> dict[str, tuple[dict, str]]:
    done = {}
    for day in DAYS[:2]:
        code, summary, log = run_job(landing, warehouse_dsn, day)
        assert code == 0, log[-4000:]
        done[day] = summary, log
    write_watchlist(landing, [subject("Y")], [])   # X taken off the list
    code, summary, log = run_job(landing, warehouse_dsn, DAYS[2])
    assert code == 0, log[-4000:]
    done[DAYS[2]] = summary, log
    return done


def test_bad_passenger_lines_of_every_day_are_quarantined(runs, warehouse_dsn):
    for day in DAYS:
        summary = runs[day][0]
        assert summary["passengers"] == 20
        assert summary["quarantined_by_reason"] == {"bad_enum": 1, "bad_embedding": 1, "not_json": 1}


def test_unchanged_watchlist_is_neither_parsed_nor_loaded_again(runs, warehouse_dsn):
    (first, first_log), (second, second_log) = runs[DAYS[0]], runs[DAYS[1]]
    assert "watchlist: 3 lines parsed" in first_log
    assert "lines parsed" not in second_log.split("passengers:")[0]    # no watchlist stage at all
    assert "watchlist unchanged (sha256" in second_log
    assert second["watchlist_version"] == first["watchlist_version"]
    versions = query(warehouse_dsn, "SELECT version_id, row_count, quarantined FROM warehouse.watchlist_versions "
                                    "ORDER BY version_id")
    assert versions[0] == (first["watchlist_version"], 2, 1)
    assert query(warehouse_dsn, "SELECT reason, detail FROM warehouse.quarantine WHERE dataset = 'watchlist' "
                                "AND watchlist_version = %s", first["watchlist_version"]) == [
        ("out_of_range", "field 'height_cm' is 400, outside 50..260")]


def test_changed_watchlist_is_a_new_version_recorded_for_the_day(runs, warehouse_dsn):
    first, third = runs[DAYS[0]][0], runs[DAYS[2]][0]
    assert third["watchlist_version"] != first["watchlist_version"]
    assert "watchlist: 1 lines parsed" in runs[DAYS[2]][1]
    assert query(warehouse_dsn, "SELECT scan_day::text, watchlist_version FROM warehouse.day_runs ORDER BY 1") == [
        (DAYS[0], first["watchlist_version"]), (DAYS[1], first["watchlist_version"]),
        (DAYS[2], third["watchlist_version"])]


def test_a_removed_subject_is_not_screened_against_after_the_new_version(runs, warehouse_dsn):
    def subjects(day: str, version: int) -> list[str]:
        con = duckdb.connect()
        load_tables(con, warehouse_dsn, date.fromisoformat(day), version)
        return [row[0] for row in con.execute("SELECT unique_id FROM watchlist ORDER BY 1").fetchall()]

    assert subjects(DAYS[0], runs[DAYS[0]][0]["watchlist_version"]) == ["X", "Y"]
    assert subjects(DAYS[2], runs[DAYS[2]][0]["watchlist_version"]) == ["Y"]


def test_two_days_normalised_at_the_same_time_both_land_whole(runs, landing, warehouse_dsn):
    for day in DAYS[:2]:
        write_day(landing, day, "BER", good=15)   # a late airport for both days
    before = query(warehouse_dsn, "SELECT count(*) FROM warehouse.passengers WHERE scan_day = %s", DAYS[2])
    with ThreadPoolExecutor(2) as pool:   # two spark-submit processes into one warehouse
        results = list(pool.map(lambda day: run_job(landing, warehouse_dsn, day), DAYS[:2]))
    for day, (code, summary, log) in zip(DAYS[:2], results):
        assert code == 0, log[-4000:]
        assert summary["passengers"] == 20 + 15 and summary["quarantined"] == 6
        counts = query(warehouse_dsn, "SELECT source_file, count(*) FROM warehouse.passengers WHERE scan_day = %s "
                                      "GROUP BY 1 ORDER BY 1", day)
        assert counts == [(f"passengers/{day}/BER.jsonl", 15), (f"passengers/{day}/OSL.jsonl", 20)]
        assert query(warehouse_dsn, "SELECT passengers, quarantined FROM warehouse.day_runs WHERE scan_day = %s",
                     day) == [(35, 6)]
    assert query(warehouse_dsn, "SELECT count(*) FROM warehouse.passengers WHERE scan_day = %s", DAYS[2]) == before
    # one partition per day, and no staging table left behind
    assert query(warehouse_dsn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'warehouse.passengers'::regclass") \
        == [(3,)]
    assert query(warehouse_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'staging'") == [(0,)]
