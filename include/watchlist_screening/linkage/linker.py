"""The one home of the Splink linker: its settings, how a Linker is built over tables,
how pairs are predicted, and how a model's comparison levels are read.

Training, scoring, reviewer labels, grouping, the reports and FEBRL all drive Splink the
same way (link_only over named tables, candidates given as blocked pairs, the predictions
table dropped once read); one module keeps them doing it the same way, and is the one
place to look when Splink's API changes.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
from splink import DuckDBAPI, Linker, SettingsCreator

from watchlist_screening.linkage.comparisons import DEFAULT_PHOTO_THRESHOLDS, Dialect, comparisons
from watchlist_screening.linkage.tables import EMBEDDING_DIM, PASSENGERS, WATCHLIST

DAY_TABLES = (PASSENGERS, WATCHLIST)
# The Splink-shaped columns of tables.load_arrow, for a Linker that only needs the schema.
_SCHEMA = (f"unique_id VARCHAR, surname_norm VARCHAR, name_keys VARCHAR[], all_dobs DATE[], "
           f"place_of_birth_norm VARCHAR, nationality VARCHAR, sex VARCHAR, height_cm DOUBLE, "
           f"eye_colour VARCHAR, face_embedding FLOAT[{EMBEDDING_DIM}]")


def settings_creator(probability_two_random_records_match: float = 1e-6,
                     surname_term_frequencies: bool = False, dialect: Dialect = "duckdb",
                     photo_thresholds: tuple[float, ...] = DEFAULT_PHOTO_THRESHOLDS,
                     joint_identity: bool = False, identity=None) -> SettingsCreator:
    """Splink settings shared by training and scoring. `dialect`: the SQL dialect of the
    custom comparison levels, i.e. of the backend (DuckDBAPI or SparkAPI) the settings will
    run on; `photo_thresholds`: the photo level boundaries (photo_levels.py chooses them
    from the data); `joint_identity`: names, dates and places as one comparison
    (comparisons.IDENTITY, the EM trainer's); `identity`: another joint identity comparison
    in its place (the encoded mode's, encoded_comparisons.py)."""
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(surname_term_frequencies, dialect, photo_thresholds, joint_identity, identity),
        probability_two_random_records_match=probability_two_random_records_match,
        # Candidates come from our own photo-neighbour search (candidates.py).
        blocking_rules_to_generate_predictions=[],
        # Embedding columns in predictions would cost gigabytes; keep bf_ columns instead,
        # they are the per-field evidence an alert shows.
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
    )


def build(db_api, tables: Sequence[str], model) -> Linker:
    """A Linker over `tables` (registered under their own names, which become
    source_dataset) on any backend (DuckDBAPI or SparkAPI). A model dict is copied:
    callers keep theirs unchanged."""
    model = copy.deepcopy(model) if isinstance(model, dict) else model
    return Linker([db_api.register(t, dataset_display_name=t) for t in tables], model, log_level=logging.WARNING)


def duckdb_linker(con: duckdb.DuckDBPyConnection, model, tables: Sequence[str] = DAY_TABLES) -> tuple[Linker, DuckDBAPI]:
    db_api = DuckDBAPI(con)
    return build(db_api, tables, model), db_api


def schema_linker(model: dict) -> Linker:
    """A Linker over empty tables of the scoring schema: enough for model charts."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {PASSENGERS} ({_SCHEMA}); CREATE TABLE {WATCHLIST} ({_SCHEMA})")
    return duckdb_linker(con, model)[0]


def predict(linker: Linker, db_api, blocked_pairs: str | None = None, threshold: float | None = None):
    """Splink's predictions (a SplinkDataFrame the caller drops) of the pairs in the
    `blocked_pairs` table (match_key, join_key_l, join_key_r), or of the model's own
    blocking rules when None."""
    if blocked_pairs is not None:
        linker.table_management.register_blocked_pairs_for_predict(db_api.register(blocked_pairs))
    return linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")


@contextmanager
def predictions(con: duckdb.DuckDBPyConnection, model, blocked_pairs: str | None = None,
                tables: Sequence[str] = DAY_TABLES, threshold: float | None = None) -> Iterator[str]:
    """The name of the DuckDB table of Splink's predictions, dropped on leaving: a day's
    predictions are large and read once."""
    linker, db_api = duckdb_linker(con, model, tables)
    predicted = predict(linker, db_api, blocked_pairs, threshold)
    try:
        yield predicted.physical_name
    finally:
        predicted.drop_table_from_database_and_remove_from_cache()


def comparison_names(model: dict) -> list[str]:
    return [c["output_column_name"] for c in model["comparisons"]]


def comparison_named(model: dict, name: str) -> dict:
    for comparison in model["comparisons"]:
        if comparison["output_column_name"] == name:
            return comparison
    raise KeyError(name)


def non_null_levels(comparison: dict) -> list[dict]:
    """A comparison's levels that carry m and u (Splink's null level carries neither)."""
    return [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
