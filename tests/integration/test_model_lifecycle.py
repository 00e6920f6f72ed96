"""A saved model is reused only on the watchlist it was fitted on: two different lists on
two consecutive days, no `retrain`, and the second day gets a model fitted on its own list
(issue: a 3,000-entry day scored with the previous day's 5,000-entry model alerted at
precision 0.36)."""
from __future__ import annotations

import datetime as dt
import logging

import pytest

from tests.integration.test_spark_normalise import run_job
from tests.unit.linkage_data import generate_day
from watchlist_screening.linkage import registry, screen_day

pytestmark = pytest.mark.integration

FIRST, SECOND = "2026-11-21", "2026-11-22"


def _landing(root, day: str, watchlist: int, seed: int):
    from watchlist_screening.generator.cli import main as generate

    assert generate(["--landing-dir", str(root), "--date", day, "--watchlist-size", str(watchlist),
                     "--airports", "LHR,CDG", "--passengers-per-airport", "800",
                     "--sightings", "8", "--seed", str(seed)]) == 0
    return root


def test_a_new_watchlist_gets_its_own_model(stack_db, tmp_path, caplog, monkeypatch):
    from tests.conftest import migrated_database

    monkeypatch.setenv("SPARK_MASTER", "local[2]")
    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        first = _landing(tmp_path / "one", FIRST, 1500, 5)
        second = _landing(tmp_path / "two", SECOND, 900, 6)
        for landing, day in ((first, FIRST), (second, SECOND)):
            code, _, log = run_job(landing, dsn, day)
            assert code == 0, log[-3000:]
        v1 = screen_day.ensure_model(dsn, dt.date.fromisoformat(FIRST), tmp_path / "models")
        with caplog.at_level(logging.INFO, logger="watchlist_screening.linkage.screen_day"):
            v2 = screen_day.ensure_model(dsn, dt.date.fromisoformat(SECOND), tmp_path / "models")
        assert v2 != v1
        m1, m2 = registry.load_model(dsn, v1), registry.load_model(dsn, v2)
        assert m2.watchlist_version == screen_day.day_watchlist_version(dsn, dt.date.fromisoformat(SECOND))
        assert m2.watchlist_version != m1.watchlist_version
        notes = registry.training_notes(dsn, v2)
        assert notes["training_rows"]["watchlist"] == 900
        assert any("fitted on watchlist version" in r.getMessage() for r in caplog.records)
        # the same list again: reused, and the log says why
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="watchlist_screening.linkage.screen_day"):
            assert screen_day.ensure_model(dsn, dt.date.fromisoformat(SECOND), tmp_path / "models") == v2
        assert any("reusing model" in r.getMessage() and "watchlist version" in r.getMessage()
                   for r in caplog.records)


def test_scoring_reads_the_candidates_training_searched(stack_db, tmp_path, caplog, monkeypatch):
    """Training and scoring are two tasks that need the same candidate pairs: the second
    reads what the first searched (same rows, same settings) and scores exactly as a search
    of its own would."""
    import dataclasses

    from tests.conftest import migrated_database
    from watchlist_screening.pipeline_settings import Settings

    monkeypatch.setenv("SPARK_MASTER", "local[2]")
    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        landing = _landing(tmp_path / "day", FIRST, 1200, 8)
        code, _, log = run_job(landing, dsn, FIRST)
        assert code == 0, log[-3000:]
        day = dt.date.fromisoformat(FIRST)
        cached = dataclasses.replace(Settings.from_env(), candidate_cache_dir=tmp_path / "cache")
        uncached = dataclasses.replace(cached, candidate_cache_dir=None)
        with caplog.at_level(logging.INFO, logger="watchlist_screening.linkage.candidate_cache"):
            version = screen_day.ensure_model(dsn, day, tmp_path / "models", settings=cached)
            assert not any("read from" in r.getMessage() for r in caplog.records)   # searched, then kept
            from_cache = screen_day.score_day(dsn, day, version, 0.25, settings=cached)
        assert any("read from" in r.getMessage() for r in caplog.records)
        searched = screen_day.score_day(dsn, day, version, 0.25, settings=uncached)
        assert (from_cache.candidate_pairs, from_cache.matches) == (searched.candidate_pairs, searched.matches)
        assert from_cache.matches > 0
