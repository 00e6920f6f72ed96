"""Splink settings shared by training and scoring."""
from __future__ import annotations

from splink import SettingsCreator

from watchlist_screening.linkage.comparisons import comparisons


def settings_creator(probability_two_random_records_match: float = 1e-6,
                     surname_term_frequencies: bool = False) -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(surname_term_frequencies),
        probability_two_random_records_match=probability_two_random_records_match,
        # Candidates come from our own photo-neighbour search (candidates.py).
        blocking_rules_to_generate_predictions=[],
        # Embedding columns in predictions would cost gigabytes; keep bf_ columns instead,
        # they are the per-field evidence an alert shows.
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
    )
