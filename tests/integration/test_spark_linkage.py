"""The Spark engine (real Spark, local[2]) against the DuckDB engine on one generated day
with a DuckDB-trained model: the same candidate pairs, the same weights for every pair, the
same matches and groups, and the truth's recall and precision."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from tests.unit.linkage_data import DAY, generate_day, load_generated_day, trained_day
from watchlist_screening.evaluation.screening_truth import evaluate, load_truth
from watchlist_screening.linkage import comparisons, scoring, spark_linkage

pytestmark = pytest.mark.integration

THRESHOLD = 0.5


@pytest.fixture(scope="module")
def spark():
    session = spark_linkage.create_session("test-spark-linkage", master="local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    landing = generate_day(tmp_path_factory.mktemp("landing"), watchlist=3000, per_airport=3000, sightings=20, seed=21)
    con, _, model, _ = trained_day(landing)
    return landing, con, model


@pytest.fixture(scope="module")
def engines(day, spark):
    """(DuckDB connection, Spark engine's connection), each scored at threshold 0: every
    candidate pair is a row of `matches`, so every pair's weights can be compared."""
    landing, on_duckdb, model = day
    scoring.score(on_duckdb, model, threshold=0.0)
    on_spark = duckdb.connect()
    load_generated_day(on_spark, landing, DAY)
    pairs = spark_linkage.score_on_spark(spark, on_spark, model, threshold=0.0)
    assert pairs == on_spark.execute("SELECT count(*) FROM candidate_pairs").fetchall()[0][0]
    return on_duckdb, on_spark


def _rows(con, table: str, key=("scan_id", "subject_id")) -> dict:
    cur = con.execute(f"SELECT * FROM {table}")
    columns = [d[0] for d in cur.description]
    return {tuple(row[columns.index(k)] for k in key): dict(zip(columns, row)) for row in cur.fetchall()}


def _types(con, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def test_same_candidate_pairs(engines):
    on_duckdb, on_spark = engines
    for table in ("candidate_pairs", "splink_blocked_pairs", "matches"):
        assert _types(on_spark, table) == _types(on_duckdb, table), table
    expected, got = _rows(on_duckdb, "candidate_pairs"), _rows(on_spark, "candidate_pairs")
    assert got.keys() == expected.keys()
    for pair, row in expected.items():
        assert (got[pair]["via_photo"], got[pair]["via_rules"]) == (row["via_photo"], row["via_rules"]), pair
        assert got[pair]["photo_similarity"] == pytest.approx(row["photo_similarity"], abs=1e-6), pair


def test_same_weights_for_every_pair(engines):
    on_duckdb, on_spark = engines
    expected, got = _rows(on_duckdb, "matches"), _rows(on_spark, "matches")
    assert got.keys() == expected.keys()
    assert len(got) == on_duckdb.execute("SELECT count(*) FROM candidate_pairs").fetchall()[0][0]
    for pair, row in expected.items():
        assert got[pair]["match_weight"] == pytest.approx(row["match_weight"], abs=1e-6), pair
        assert got[pair]["match_probability"] == pytest.approx(row["match_probability"], abs=1e-9), pair
        evidence, expected_evidence = json.loads(got[pair]["evidence"]), json.loads(row["evidence"])
        assert list(evidence) == list(expected_evidence) == list(comparisons.M_PRIORS)
        assert evidence == pytest.approx(expected_evidence, abs=1.001e-3), pair
        assert got[pair]["group_id"] == row["group_id"], pair


def _matches(con, threshold: float = THRESHOLD) -> set[tuple[str, str]]:
    return {(r["scan_id"], r["subject_id"]) for r in scoring.match_rows(con) if r["match_probability"] >= threshold}


def test_same_matches_reaching_the_truth(engines, day):
    landing, _, _ = day
    on_duckdb, on_spark = engines
    matches = _matches(on_spark)
    assert matches == _matches(on_duckdb)
    result = evaluate(load_truth(landing, dt.date.fromisoformat(DAY)), sorted(matches), dt.date.fromisoformat(DAY))
    assert result.recall == 1.0, result.missed_scan_ids
    assert result.precision >= 0.9, result.false_alerts


def test_partitioned_search_finds_what_one_shard_finds(engines, spark):
    _, on_spark = engines
    passengers = spark.createDataFrame(on_spark.sql("SELECT * FROM passengers").to_arrow_table())
    watchlist = spark.createDataFrame(on_spark.sql("SELECT * FROM watchlist").to_arrow_table())

    def pairs(shard_rows: int, block_rows: int) -> set[tuple[str, str]]:
        config = spark_linkage.SparkLinkageConfig(shard_rows=shard_rows, block_rows=block_rows)
        return {tuple(r) for r in spark_linkage.photo_pairs(passengers, watchlist, spark_config=config).collect()}

    one_shard = pairs(shard_rows=10_000, block_rows=10_000)
    assert one_shard == pairs(shard_rows=700, block_rows=1_000)  # 5 shards × 6 blocks
    assert one_shard == set(on_spark.execute("SELECT scan_id, subject_id FROM candidate_pairs WHERE via_photo").fetchall())
