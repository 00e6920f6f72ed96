"""Scoring a grouping against truth: pair precision/recall and people grouped exactly."""
from __future__ import annotations

import pytest

from watchlist_screening.evaluation.grouping_truth import cluster_metrics


def test_cluster_metrics_count_pairs():
    universe = {"s1": "P1", "w1": "P1", "w1b": "P1", "s2": "P2", "w2": "P2"}
    groups = {"s1": "g1", "w1": "g1", "s2": "g2", "w2": "g2", "w9": "g2"}  # w1b missed, w9 wrongly added
    result = cluster_metrics(groups, universe, person_of={"w9": "P9"})
    assert result["true_pairs"] == 4 and result["true_pairs_found"] == 2
    assert result["pair_recall"] == pytest.approx(0.5)
    assert result["predicted_pairs"] == 4  # (s1,w1) (s2,w2) (s2,w9) (w2,w9)
    assert result["pair_precision"] == pytest.approx(0.5)
    assert result["people_grouped_exactly"] == 0
    perfect = cluster_metrics({"s1": "a", "w1": "a", "w1b": "a", "s2": "b", "w2": "b"}, universe)
    assert perfect["pair_precision"] == perfect["pair_recall"] == 1.0 and perfect["people_grouped_exactly"] == 2
