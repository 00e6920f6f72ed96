"""Reviewer labels feed training: m of the identity comparisons, a recommended threshold,
and the model report shows the effect."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.linkage_data import DAY, generate_day, trained_day
from watchlist_screening.evaluation.screening_truth import load_truth
from watchlist_screening.linkage import reviewer_labels as labels
from watchlist_screening.linkage import scoring, training
from watchlist_screening.linkage.comparisons import M_PRIORS, PHOTO


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    landing = generate_day(tmp_path_factory.mktemp("landing"), watchlist=4000, per_airport=4000, sightings=30, seed=23)
    con, _, model, _ = trained_day(landing, training.TrainingConfig(u_random_pairs=3e5, photo_sample_pairs=8_000_000))
    return con, model, load_truth(landing, dt.date.fromisoformat(DAY))


def _reviewed(con, model, truth, threshold=0.01) -> list[dict]:
    """What reviewers would decide on every alert at a low threshold, from generated truth;
    one pair decided twice (the later decision stands) and one left undecided."""
    scoring.score(con, model, threshold)
    rows = scoring.match_rows(con)
    out = [{"review_id": i + 10, "scan_id": r["scan_id"], "subject_id": r["subject_id"],
            "decision": "confirmed" if r["subject_id"] in truth.get(r["scan_id"], ()) else "false_positive"}
           for i, r in enumerate(rows)]
    first = out[0]
    out.append({**first, "review_id": 1, "decision": "needs_info"})  # older: superseded
    return out


def test_labels_refine_identity_m_and_recommend_a_threshold(day):
    con, model, truth = day
    reviewed = _reviewed(con, model, truth)
    confirmed = sum(r["decision"] == "confirmed" for r in reviewed if r["review_id"] >= 10)
    false_positives = sum(r["decision"] == "false_positive" for r in reviewed if r["review_id"] >= 10)
    assert confirmed >= 20 and false_positives >= 1  # the generated day gives both kinds

    refined, notes = labels.apply_labels(con, model, reviewed, threshold=0.3)
    assert notes["confirmed"] == confirmed and notes["false_positive"] == false_positives
    names = notes["m"]["comparisons"]["names"]
    assert names["before"] == pytest.approx(M_PRIORS["names"]) and names["after"] != names["before"]
    for comparison in refined["comparisons"]:
        if comparison["output_column_name"] in labels.LABELLED_COMPARISONS:
            m = [lvl["m_probability"] for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
            assert sum(m) == pytest.approx(1.0)
    photo = lambda mdl: next(c for c in mdl["comparisons"] if c["output_column_name"] == PHOTO)  # noqa: E731
    assert photo(refined) == photo(model)  # physical comparisons keep their duplicate-listing m

    # The recommended threshold keeps every confirmed pair and drops labelled false positives.
    best = notes["at_recommended_threshold"]
    assert notes["recommended_threshold"] in labels.THRESHOLD_GRID
    assert best["recall_on_confirmed"] == 1.0
    assert best["false_positives_kept"] <= notes["after"]["false_positives_kept"] or \
        notes["recommended_threshold"] < 0.3
    assert best["false_positives_kept"] < best["false_positives"]
    assert notes["fingerprint"] == labels.fingerprint(reviewed) != labels.fingerprint(reviewed[:-2])


def test_labelled_model_still_reaches_the_floors(day):
    from watchlist_screening.evaluation.screening_truth import evaluate

    con, model, truth = day
    refined, notes = labels.apply_labels(con, model, _reviewed(con, model, truth), threshold=0.3)
    scoring.score(con, refined, notes["recommended_threshold"])
    result = evaluate(truth, [(r["scan_id"], r["subject_id"]) for r in scoring.match_rows(con)],
                      dt.date.fromisoformat(DAY))
    assert result.recall == 1.0, result.missed_scan_ids
    assert result.precision >= 0.9, result.false_alerts


def test_too_few_confirmed_pairs_leave_the_model_alone(day):
    con, model, truth = day
    few = [r for r in _reviewed(con, model, truth) if r["decision"] == "false_positive"][:3]
    refined, notes = labels.apply_labels(con, model, few, threshold=0.3)
    assert refined == model and notes["confirmed"] == 0 and "unchanged" in notes["m"]
    assert labels.apply_labels(con, model, [], threshold=0.3)[0] == model


def test_model_report_shows_the_labels_effect(day, tmp_path):
    from watchlist_screening.reporting import model_report

    con, model, truth = day
    refined, label_notes = labels.apply_labels(con, model, _reviewed(con, model, truth), threshold=0.3)
    notes = {"parameters": {"m_sources": {}}, "labels": label_notes}
    page = model_report.write_model_report(tmp_path, "v-labels", refined, notes).read_text()
    assert "<h2>Reviewer labels</h2>" in page and "Recommended match threshold" in page
    assert "model before labels" in page and "model after labels" in page
    rows = model_report.parameter_rows(refined, notes)
    assert {r["m_source"].split(" (")[0] for r in rows if r["comparison"] == "names"} == {"reviewer labels"}
