"""The grid's view of a day's candidates: labels, sightings, features, blocking recall,
and the scenario list (a small generated day; no model is trained here)."""
from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest
from watchlist_screening.evaluation.screening_truth import load_truth
from watchlist_screening.evaluation import baselines, pairs
from watchlist_screening.evaluation import precision_recall
from watchlist_screening.evaluation.scenarios import GRID, pick
from watchlist_screening.generator import GeneratorConfig, generate
from watchlist_screening.linkage import candidates
from watchlist_screening.linkage.jsonl_loader import load_generated_day

DAY = "2026-11-21"


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    generate(GeneratorConfig(landing_dir=root, dates=(dt.date.fromisoformat(DAY),), watchlist_size=400,
                             passengers_per_airport=400, sightings=20, seed=3))
    con = duckdb.connect()
    load_generated_day(con, root, DAY)
    candidates.build_candidates(con)
    truth = load_truth(root, dt.date.fromisoformat(DAY))
    yield root, truth, pairs.labelled_candidates(con, truth)
    con.close()


def test_labels_and_sightings_follow_the_truth(day):
    _, truth, labelled = day
    assert labelled.sightings == sorted(truth)
    for s, w, m, g in zip(labelled.scan_id, labelled.subject_id, labelled.is_match, labelled.sighting):
        assert m == (w in truth.get(s, ()))
        assert (g == labelled.sightings.index(s)) if m else g == -1
    assert pairs.blocking(labelled)["blocking_recall"] == 1.0  # photo neighbours find them all
    assert labelled.features.shape == (len(labelled), len(pairs.FEATURES))


def test_features_separate_true_pairs(day):
    _, _, labelled = day
    f = dict(zip(labelled.feature_names, labelled.features.T))
    assert np.nanmean(f["photo_cosine"][labelled.is_match]) > 0.7
    assert np.nanmean(f["photo_cosine"][~labelled.is_match]) < 0.45
    assert np.nanmean(f["height_diff_cm"][labelled.is_match]) < 3.0
    assert np.all((f["sex_equal"][~np.isnan(f["sex_equal"])] == 0) | (f["sex_equal"][~np.isnan(f["sex_equal"])] == 1))


def test_face_ranking_and_a_self_trained_baseline(day):
    _, _, labelled = day
    n = len(labelled.sightings)
    face = precision_recall.pr_curve(baselines.face_scores(labelled), labelled.is_match, labelled.sighting, n)
    assert precision_recall.precision_at_recall(face, 0.99) > 0.5
    probability, notes = baselines.supervised(labelled, labelled)
    assert notes["training_matches"] == int(labelled.is_match.sum())
    assert precision_recall.at_threshold(probability, labelled.is_match, labelled.sighting, n, 0.5)["sighting_recall"] > 0.9


def test_aligned_scores_and_decoys(day):
    root, _, labelled = day
    first = (labelled.scan_id[0], labelled.subject_id[0])
    scores = pairs.aligned_scores(labelled, [(*first, 2.5)])
    assert scores[0] == 2.5 and np.isnan(scores[1:]).all()
    kinds = pairs.decoy_kinds(root, DAY)
    assert set(kinds.values()) == {"namesake", "look_alike"}


def test_grid_has_the_default_the_extremes_and_all_shifted():
    names = [s.name for s in GRID]
    assert len(names) >= 8 and names[0] == "default" and "all_shifted" in names
    assert GRID[0].world.changed() == {}
    assert all(s.world.changed() for s in GRID[1:])
    assert [s.name for s in pick("default,all_shifted")] == ["default", "all_shifted"]
    with pytest.raises(ValueError):
        pick("nowhere")
