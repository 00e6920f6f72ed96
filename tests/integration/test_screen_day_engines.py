"""The linkage stage as the DAG runs it (screen_day: model, candidates, scores, groups, rows
in warehouse.matches) on a day the real Spark job normalised, once per engine: DuckDB and
Spark must store the same matches with the same groups, and train the same model."""
from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from tests.integration.test_spark_normalise import run_job
from tests.unit.linkage_data import DAY, generate_day
from watchlist_screening.linkage import registry, screen_day

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warehouse(stack_db, tmp_path_factory):
    from tests.conftest import migrated_database

    landing = generate_day(tmp_path_factory.mktemp("landing"), watchlist=2000, per_airport=1500, sightings=12, seed=31)
    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        code, summary, log = run_job(landing, dsn, DAY)
        assert code == 0, log[-3000:]
        yield dsn


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "local[2]")


def stored_matches(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("""SELECT scan_id, subject_id, round(match_probability::numeric, 6), group_id
                               FROM warehouse.matches WHERE scan_day = %s ORDER BY 1, 2""", (DAY,)).fetchall()


def test_engines_store_the_same_matches_and_groups(warehouse, tmp_path):
    day = dt.date.fromisoformat(DAY)
    version = screen_day.ensure_model(warehouse, day, tmp_path, engine="duckdb")
    on_duckdb = screen_day.score_day(warehouse, day, version, 0.3, engine="duckdb")
    duckdb_rows = stored_matches(warehouse)
    on_spark = screen_day.score_day(warehouse, day, version, 0.3, engine="spark")
    assert on_spark == on_duckdb and on_duckdb.matches >= 10
    assert stored_matches(warehouse) == duckdb_rows


def test_training_on_spark_candidates_gives_the_same_model(warehouse, tmp_path):
    day = dt.date.fromisoformat(DAY)
    models = [registry.load_model(warehouse, screen_day.ensure_model(warehouse, day, tmp_path / engine,
                                                                     retrain=True, engine=engine)).model
              for engine in ("duckdb", "spark")]
    for model in models:
        model.pop("linker_uid", None)
    assert models[0] == models[1]


def test_unknown_engine_is_refused(monkeypatch):
    monkeypatch.setenv("WATCHLIST_LINKAGE_ENGINE", "postgres")
    with pytest.raises(ValueError, match="WATCHLIST_LINKAGE_ENGINE"):
        screen_day.linkage_engine()
