"""Score the day's candidate pairs with a trained model, keep the matches, group them."""
from __future__ import annotations

import json
import math

import duckdb

from watchlist_screening.linkage.candidates import CANDIDATES, SPLINK_BLOCKED_PAIRS
from watchlist_screening.linkage.linker import comparison_names, duckdb_linker, predict
from watchlist_screening.linkage.tables import PASSENGERS, scalar

MATCHES = "matches"


def score(con: duckdb.DuckDBPyConnection, model: dict, threshold: float) -> int:
    """Create the `matches` table: one row per pair at or above `threshold`, with the
    per-comparison match weights as evidence and a group id per connected component."""
    linker, db_api = duckdb_linker(con, model)
    predictions = predict(linker, db_api, SPLINK_BLOCKED_PAIRS, threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    con.execute(f"""
        CREATE OR REPLACE TABLE match_groups AS
        SELECT unique_id AS scan_id, cluster_id AS group_id
        FROM {clusters.physical_name} WHERE source_dataset = '{PASSENGERS}'""")
    create_matches(con, predictions.physical_name, "match_groups", comparison_names(model))
    return scalar(con, f"SELECT count(*) FROM {MATCHES}")


def create_matches(con: duckdb.DuckDBPyConnection, predictions: str, groups: str, names: list[str]) -> None:
    """The `matches` table from Splink's predictions (either engine's, in `con`), the
    candidates' photo similarity and a (scan_id, group_id) table."""
    # Splink's per-comparison match weights (log2 Bayes factors): what spoke for and against.
    evidence = ", ".join(f"'{n}': round(pr.mw_{n}, 3)" for n in names)
    scan = f"CASE WHEN pr.source_dataset_l = '{PASSENGERS}' THEN pr.unique_id_l ELSE pr.unique_id_r END"
    subject = f"CASE WHEN pr.source_dataset_l = '{PASSENGERS}' THEN pr.unique_id_r ELSE pr.unique_id_l END"
    con.execute(f"""
        CREATE OR REPLACE TABLE {MATCHES} AS
        SELECT {scan} AS scan_id, {subject} AS subject_id,
               pr.match_probability, pr.match_weight,
               c.photo_similarity,
               to_json({{{evidence}}})::VARCHAR AS evidence,
               g.group_id
        FROM {predictions} pr
        JOIN {CANDIDATES} c ON c.scan_id = {scan} AND c.subject_id = {subject}
        LEFT JOIN {groups} g ON g.scan_id = {scan}""")


def match_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {MATCHES} ORDER BY scan_id, subject_id")
    columns = [d[0] for d in cur.description]
    rows = []
    for values in cur.fetchall():
        row = dict(zip(columns, values))
        row["evidence"] = {k: (v if v is None or math.isfinite(v) else None) for k, v in json.loads(row["evidence"]).items()}
        rows.append(row)
    return rows
