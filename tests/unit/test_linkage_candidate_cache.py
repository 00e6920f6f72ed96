"""The day's candidate pairs kept between training and scoring: read back only for the very
inputs and settings they were searched from, and never trusted when damaged."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from tests.unit.linkage_data import DAY, generate_day, load_generated_day
from watchlist_screening.linkage import candidate_cache, candidates

THE_DAY = dt.date.fromisoformat(DAY)
CONFIG = candidates.CandidateConfig()


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return generate_day(tmp_path_factory.mktemp("landing"), watchlist=600, per_airport=500, sightings=6, seed=21)


def _loaded(landing) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load_generated_day(con, landing, DAY)
    return con


def _pairs(con) -> list[tuple]:
    return con.sql(f"SELECT * FROM {candidates.CANDIDATES} ORDER BY ALL").fetchall()


def test_the_other_task_reads_back_exactly_the_searched_pairs(landing, tmp_path):
    searched = _loaded(landing)
    candidates.build_candidates(searched, CONFIG)
    candidate_cache.store(searched, tmp_path, THE_DAY, candidate_cache.key(searched, CONFIG))
    other_task = _loaded(landing)
    assert candidate_cache.key(other_task, CONFIG) == candidate_cache.key(searched, CONFIG)
    assert candidate_cache.load(other_task, tmp_path, THE_DAY, candidate_cache.key(other_task, CONFIG))
    assert _pairs(other_task) == _pairs(searched) and len(_pairs(searched)) > 0


def test_another_row_or_setting_is_another_key(landing, tmp_path):
    con = _loaded(landing)
    candidates.build_candidates(con, CONFIG)
    candidate_cache.store(con, tmp_path, THE_DAY, candidate_cache.key(con, CONFIG))
    renormalised = _loaded(landing)
    renormalised.execute("UPDATE passengers SET height_cm = height_cm + 1 WHERE unique_id = "
                         "(SELECT min(unique_id) FROM passengers)")
    changed = candidate_cache.key(renormalised, CONFIG)
    assert changed != candidate_cache.key(con, CONFIG)
    assert not candidate_cache.load(renormalised, tmp_path, THE_DAY, changed)
    assert candidate_cache.key(con, candidates.CandidateConfig(photo_blocking="sex")) != candidate_cache.key(con, CONFIG)
    assert candidate_cache.key(con, candidates.CandidateConfig(neighbours=11)) != candidate_cache.key(con, CONFIG)


def test_a_damaged_or_missing_file_means_search_again(landing, tmp_path):
    con = _loaded(landing)
    wanted = candidate_cache.key(con, CONFIG)
    assert not candidate_cache.load(con, tmp_path, THE_DAY, wanted)          # none yet
    assert not candidate_cache.load(con, None, THE_DAY, wanted)              # cache turned off
    (tmp_path / f"{DAY}.parquet").write_bytes(b"PAR1 not really")
    assert not candidate_cache.load(con, tmp_path, THE_DAY, wanted)
    assert candidates.CANDIDATES not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}


def test_one_file_per_day_and_old_days_removed(landing, tmp_path):
    con = _loaded(landing)
    candidates.build_candidates(con, CONFIG)
    for days_before in (30, 3, 0):
        candidate_cache.store(con, tmp_path, THE_DAY - dt.timedelta(days=days_before), f"k{days_before}")
    candidate_cache.store(con, tmp_path, THE_DAY, "newer")
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == [f"{THE_DAY - dt.timedelta(days=3)}.parquet", f"{DAY}.parquet"]
    assert not candidate_cache.load(con, tmp_path, THE_DAY, "k0")   # replaced by the later key
    assert candidate_cache.load(con, tmp_path, THE_DAY, "newer")
