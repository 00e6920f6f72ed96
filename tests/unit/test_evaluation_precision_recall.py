"""Curve figures of the scenario grid on small hand-made rankings."""
from __future__ import annotations

import numpy as np
import pytest
from watchlist_screening.evaluation.precision_recall import (
    at_threshold,
    pr_curve,
    precision_at_recall,
    recall_at_precision,
    shortfall,
    summary,
)

# Six candidate pairs, three sightings (0, 1, 2); sighting 1 has two true pairs (listed
# twice); sighting 2 was never blocked (no candidate), so recall tops out at 2/3.
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
MATCH = np.array([True, False, True, True, False, False])
SIGHTING = np.array([0, -1, 1, 1, -1, -1])


def test_curve_counts_sightings_not_pairs():
    c = pr_curve(SCORES, MATCH, SIGHTING, n_sightings=3)
    assert c.recall.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert c.precision.tolist() == pytest.approx([1, 1 / 2, 2 / 3, 3 / 4, 3 / 5, 1 / 2])
    assert c.alerts.tolist() == [1, 2, 3, 4, 5, 6]


def test_ties_are_alerted_together():
    c = pr_curve(np.array([0.9, 0.9, 0.5]), np.array([False, True, True]), np.array([-1, 0, 1]), 2)
    assert c.thresholds.tolist() == [0.9, 0.5]
    assert c.precision.tolist() == pytest.approx([0.5, 2 / 3])
    assert c.recall.tolist() == pytest.approx([0.5, 1.0])


def test_precision_at_recall_and_recall_at_precision():
    c = pr_curve(SCORES, MATCH, SIGHTING, 3)
    assert precision_at_recall(c, 0.5) == pytest.approx(3 / 4)  # best threshold reaching 2/3
    assert precision_at_recall(c, 0.99) is None  # unreachable: sighting 2 was never blocked
    assert recall_at_precision(c, 0.95) == pytest.approx(1 / 3)
    assert recall_at_precision(c, 0.7) == pytest.approx(2 / 3)
    assert recall_at_precision(pr_curve(SCORES, ~MATCH, SIGHTING, 3), 0.95) == 0.0
    figures = summary(c)
    assert figures["precision_at_recall_0.99"] is None
    assert figures["max_recall"] == pytest.approx(0.6667, abs=1e-4)


def test_nan_scores_rank_last():
    c = pr_curve(np.array([np.nan, 0.2]), np.array([False, True]), np.array([-1, 0]), 1)
    assert c.precision[0] == 1.0 and c.recall[0] == 1.0


def test_at_threshold():
    r = at_threshold(SCORES, MATCH, SIGHTING, 3, 0.65)
    assert r == {"sighting_recall": pytest.approx(2 / 3), "precision": pytest.approx(2 / 3),
                 "alerts": 3, "false_alerts": 1, "sightings_found": 2}
    assert at_threshold(SCORES, MATCH, SIGHTING, 3, 2.0)["precision"] == 1.0


def test_shortfall_is_zero_when_on_or_above_and_measures_the_gap_otherwise():
    face = pr_curve(SCORES, MATCH, SIGHTING, 2)
    assert shortfall(face, face)["on_or_above"]
    # A model that ranks the false pair first: at recall 1/2 the face alerts one true pair
    # (precision 1), the model at best three true pairs of four (interpolated: 3/4).
    worse = pr_curve(np.array([0.7, 0.95, 0.6, 0.5, 0.4, 0.3]), MATCH, SIGHTING, 2)
    gap = shortfall(worse, face)
    assert not gap["on_or_above"]
    assert gap["max_shortfall"] == pytest.approx(1.0 - 3 / 4)
    assert gap["at_recall"] == 0.5
    assert shortfall(face, worse)["on_or_above"]


def test_a_curve_that_cannot_reach_a_recall_falls_short_there():
    face = pr_curve(np.array([0.9, 0.8]), np.array([True, True]), np.array([0, 1]), 2)
    blind = pr_curve(np.array([0.9, np.nan]), np.array([True, False]), np.array([0, -1]), 2)
    gap = shortfall(blind, face)
    assert gap["max_shortfall"] == 1.0 and gap["at_recall"] == 0.51


def test_calibration_puts_predicted_beside_observed_per_band():
    from watchlist_screening.evaluation.precision_recall import calibration

    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 200_000)
    y = rng.uniform(0, 1, p.size) < p                      # calibrated by construction
    rows = calibration(np.r_[p, np.nan], np.r_[y, False])
    assert sum(r["pairs"] for r in rows) == p.size       # the unscored pair is left out
    for r in rows:
        assert abs(r["mean_predicted"] - r["observed"]) < 0.02, r
    overconfident = calibration(np.full(1000, 0.95), np.zeros(1000, bool))
    band = next(r for r in overconfident if r["pairs"])
    assert band["band"] == [0.9, 0.99] and band["observed"] == 0.0
