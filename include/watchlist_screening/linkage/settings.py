"""Splink settings shared by training and scoring."""
from __future__ import annotations

from splink import SettingsCreator

from watchlist_screening.linkage.comparisons import DEFAULT_PHOTO_THRESHOLDS, Dialect, comparisons


def settings_creator(probability_two_random_records_match: float = 1e-6,
                     surname_term_frequencies: bool = False, dialect: Dialect = "duckdb",
                     photo_thresholds: tuple[float, ...] = DEFAULT_PHOTO_THRESHOLDS) -> SettingsCreator:
    """`dialect`: the SQL dialect of the custom comparison levels, i.e. of the backend
    (DuckDBAPI or SparkAPI) the settings will run on; `photo_thresholds`: the photo level
    boundaries (photo_levels.py chooses them from the data)."""
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(surname_term_frequencies, dialect, photo_thresholds),
        probability_two_random_records_match=probability_two_random_records_match,
        # Candidates come from our own photo-neighbour search (candidates.py).
        blocking_rules_to_generate_predictions=[],
        # Embedding columns in predictions would cost gigabytes; keep bf_ columns instead,
        # they are the per-field evidence an alert shows.
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
    )
