"""The real Spark job (spark-submit) into the real Postgres: every line accounted for,
re-runs replace the day, late files are picked up, the watchlist loads once per content."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = "2030-02-03"


def _passenger(n: int, airport: str = "LHR", **changes) -> str:
    record = {"scan_id": f"{airport}-{n}", "airport": airport, "scanned_at": f"{DAY}T08:00:00Z",
              "given_names": "Zoë", "surname": "Dvořák", "date_of_birth": "1980-01-02", "sex": "F",
              "height_cm": 170, "eye_colour": "blue", "face_embedding": [float(n % 7 + 1)] * 128, **changes}
    return json.dumps(record, ensure_ascii=False)


@pytest.fixture()
def landing(tmp_path) -> Path:
    (tmp_path / "watchlist").mkdir()
    subject = {"subject_id": "S1", "given_names": "Иван", "surname": "Петров", "sex": "M", "height_cm": 180,
               "eye_colour": "grey", "face_embedding": [0.5] * 128,
               "aliases": [{"given_names": "John", "surname": "Peters", "date_of_birth": "1970-05-06"}]}
    (tmp_path / "watchlist" / "watchlist.jsonl").write_text(json.dumps(subject) + "\n" + "{broken\n")
    day = tmp_path / "passengers" / DAY
    day.mkdir(parents=True)
    lines = [_passenger(1), _passenger(2), "not json", _passenger(3, height_cm=900), _passenger(1),
             *(_passenger(n) for n in range(4, 12))]
    (day / "LHR.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (day / "CDG.jsonl.gz").write_bytes(gzip.compress(("\n".join(_passenger(i, "CDG") for i in range(5)) + "\n").encode()))
    (day / "AMS.jsonl").write_text("")
    return tmp_path


def run_job(landing: Path, dsn: str, day: str = DAY, **extra_env: str) -> tuple[int, dict | None, str]:
    env = {**os.environ, **extra_env, "WAREHOUSE_DSN": dsn, "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(["spark-submit", "--master", "local[2]",
                           str(REPO_ROOT / "spark" / "normalise_day.py"), "--date", day, "--landing-dir", str(landing)],
                          env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, (json.loads(lines[-1]) if lines else None), done.stdout + done.stderr


def rows(dsn: str, sql: str, *args):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


def test_day_loads_quarantines_and_reruns_idempotently(landing, warehouse_dsn):
    code, summary, err = run_job(landing, warehouse_dsn)
    assert code == 0, err[-3000:]
    assert summary["passengers"] == 10 + 5 and summary["quarantined"] == 3
    assert summary["quarantined_by_reason"] == {"not_json": 1, "out_of_range": 1, "duplicate_scan_id": 1}
    quarantine = rows(warehouse_dsn, "SELECT source_file, line_number, raw_text, reason, detail FROM warehouse.quarantine "
                      "WHERE scan_day = %s ORDER BY line_number", DAY)
    assert [(q[0], q[1], q[3]) for q in quarantine] == [
        (f"passengers/{DAY}/LHR.jsonl", 3, "not_json"), (f"passengers/{DAY}/LHR.jsonl", 4, "out_of_range"),
        (f"passengers/{DAY}/LHR.jsonl", 5, "duplicate_scan_id")]
    assert quarantine[0][2] == "not json" and "height_cm" in quarantine[1][4]
    name, norm, emb = rows(warehouse_dsn, "SELECT surname, surname_norm, face_embedding FROM warehouse.passengers "
                           "WHERE scan_day = %s AND scan_id = 'LHR-1'", DAY)[0]
    assert (name, norm) == ("Dvořák", "dvorak") and sum(x * x for x in emb) == pytest.approx(1.0, rel=1e-5)
    names, dobs = rows(warehouse_dsn, "SELECT all_names_norm, all_dobs FROM warehouse.watchlist WHERE subject_id = 'S1' "
                       "AND version_id = %s", summary["watchlist_version"])[0]
    assert names == ["ivan petrov", "john peters"] and [d.isoformat() for d in dobs] == ["1970-05-06"]
    assert rows(warehouse_dsn, "SELECT count(*) FROM warehouse.quarantine WHERE dataset = 'watchlist' "
                "AND watchlist_version = %s", summary["watchlist_version"])[0][0] == 1

    before = rows(warehouse_dsn, "SELECT scan_id, full_name_norm FROM warehouse.passengers WHERE scan_day = %s ORDER BY 1", DAY)
    code, again, err = run_job(landing, warehouse_dsn)
    assert code == 0, err[-3000:]
    assert again == summary
    assert rows(warehouse_dsn, "SELECT scan_id, full_name_norm FROM warehouse.passengers WHERE scan_day = %s ORDER BY 1", DAY) == before
    assert again["watchlist_version"] == summary["watchlist_version"]  # same content: not loaded again

    (landing / "passengers" / DAY / "FRA.jsonl").write_text(_passenger(1, "FRA") + "\n")
    code, late, err = run_job(landing, warehouse_dsn)
    assert code == 0 and late["passengers"] == summary["passengers"] + 1, err[-3000:]


def test_a_day_without_files_is_an_empty_day(landing, warehouse_dsn):
    code, summary, err = run_job(landing, warehouse_dsn, day="2030-02-04")
    assert code == 0, err[-3000:]
    assert summary["passengers"] == 0 and summary["quarantined"] == 0


def test_too_many_bad_lines_fail_the_day_after_writing_them(landing, warehouse_dsn):
    code, summary, err = run_job(landing, warehouse_dsn, WATCHLIST_MAX_QUARANTINE_SHARE="0.1")
    assert code == 3
    assert "quarantine" in err.lower() and "LHR.jsonl" in err
    assert rows(warehouse_dsn, "SELECT count(*) FROM warehouse.quarantine WHERE scan_day = %s", DAY)[0][0] == 3
