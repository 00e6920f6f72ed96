"""Linkage on a small generated day: model shape, blocking, training, scoring, reloading."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from tests.unit.linkage_data import DAY, generate_day, load_generated_day, trained_day
from watchlist_screening.evaluation.screening_truth import evaluate, load_truth
from watchlist_screening.linkage import candidates, comparisons, scoring, training
from watchlist_screening.linkage.linker import settings_creator

SIGHTINGS = 24


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return generate_day(tmp_path_factory.mktemp("landing"), watchlist=5000, per_airport=5000, sightings=SIGHTINGS, seed=14)


@pytest.fixture(scope="module")
def trained(landing):
    return trained_day(landing)


def test_priors_fit_the_comparison_levels():
    settings = settings_creator().get_settings("duckdb")
    for comparison in settings.comparisons:
        levels = [lvl for lvl in comparison.comparison_levels if not lvl.is_null_level]
        assert len(comparisons.M_PRIORS[comparison.output_column_name]) == len(levels), comparison.output_column_name
        assert sum(comparisons.M_PRIORS[comparison.output_column_name]) == pytest.approx(1.0)


def _dob_level(listed: list[str], travelling: str) -> str:
    """The label of the date-of-birth level a passenger's date falls in against a listing."""
    settings = settings_creator().get_settings("duckdb")
    dob = next(c for c in settings.comparisons if c.output_column_name == "date_of_birth")
    con = duckdb.connect()
    for level in dob.comparison_levels:
        if level.sql_condition == "ELSE":
            return level.label_for_charts
        sql = f"SELECT {level.sql_condition} FROM (SELECT ?::DATE[] AS all_dobs_l, ?::DATE[] AS all_dobs_r)"
        if con.execute(sql, [[travelling], listed]).fetchall()[0][0]:
            return level.label_for_charts
    raise AssertionError("no level matched")


@pytest.mark.parametrize(("listed", "travelling", "level"), [
    (["1980-03-04"], "1980-03-04", "Same date of birth (any alias)"),
    (["1980-03-04", "1977-01-01"], "1977-01-01", "Same date of birth (any alias)"),
    (["1980-03-04"], "1980-04-03", "Day and month transposed"),
    (["1980-03-04"], "1981-12-31", "Within a year"),
    # a forged date that still fits the face
    (["1980-03-04"], "1984-07-01", f"Within {comparisons.DOB_PLAUSIBLE_YEARS} years"),
    (["1980-03-04"], "1976-01-01", f"Within {comparisons.DOB_PLAUSIBLE_YEARS} years"),
    (["1980-03-04"], "1989-03-04", "All other comparisons"),
])
def test_date_of_birth_levels(listed, travelling, level):
    assert _dob_level(listed, travelling) == level


def test_photo_levels_never_weigh_less_as_similarity_rises(trained):
    _, _, model, _ = trained
    photo = next(c for c in model["comparisons"] if c["output_column_name"] == comparisons.PHOTO)
    levels = [lvl for lvl in photo["comparison_levels"] if not lvl.get("is_null_level")]
    bayes_factors = [lvl["m_probability"] / lvl["u_probability"] for lvl in levels]
    # pooled levels share one Bayes factor, equal up to rounding
    assert all(a >= b * (1 - 1e-9) for a, b in zip(bayes_factors, bayes_factors[1:])), bayes_factors
    assert bayes_factors[-1] < 1  # dissimilar photos speak against a match


def test_monotone_u_pools_violations_and_keeps_totals():
    m = [0.30, 0.25, 0.20, 0.13, 0.07, 0.03, 0.015, 0.005]
    u = [1e-9, 2e-8, 1e-8, 4e-7, 3e-6, 1e-6, 2e-4, 0.9997]  # levels 1-2 and 4-5 out of order
    fixed = training.monotone_u(m, u)
    bayes_factors = [mi / ui for mi, ui in zip(m, fixed)]
    # pooled levels share one Bayes factor, equal up to rounding
    assert all(a >= b * (1 - 1e-9) for a, b in zip(bayes_factors, bayes_factors[1:])), bayes_factors
    assert sum(fixed) == pytest.approx(sum(u))
    assert fixed[1] + fixed[2] == pytest.approx(u[1] + u[2])
    assert fixed[0] == u[0] and fixed[3] == u[3] and fixed[-1] == u[-1]  # in order: untouched
    in_order = [1e-9, 1e-8, 2e-8, 4e-7, 1e-6, 3e-6, 2e-4, 0.9997]
    assert training.monotone_u(m, in_order) == in_order


def test_blocking_finds_every_sighting_without_names(trained, landing):
    con, counts, _, _ = trained
    pairs = set(con.execute("SELECT scan_id, subject_id FROM candidate_pairs WHERE via_photo").fetchall())
    truth = load_truth(landing, dt.date.fromisoformat(DAY))
    assert all(any((scan, s) in pairs for s in subjects) for scan, subjects in truth.items())
    assert counts["candidate_pairs"] <= 50 * counts["passengers"]


def test_training_notes_say_where_each_parameter_came_from(trained):
    _, _, _, notes = trained
    params = notes["parameters"]
    assert params["m_sources"][comparisons.PHOTO] == "data"
    assert params["m_sources"]["names"] == "prior"
    assert params["lambda"]["confident_pairs"] > 0
    assert params["u_face_embedding"]["look_alikes_in_sample"] >= 1
    assert params["u_face_embedding"]["similar_pairs_from"].startswith("candidate pairs")
    assert notes["term_frequencies"].startswith("none")


def test_scores_reach_recall_and_precision_floors(trained, landing):
    con, _, model, _ = trained
    scoring.score(con, model, threshold=0.5)
    rows = scoring.match_rows(con)
    result = evaluate(load_truth(landing, dt.date.fromisoformat(DAY)),
                      [(r["scan_id"], r["subject_id"]) for r in rows], dt.date.fromisoformat(DAY))
    assert result.recall == 1.0, result.missed_scan_ids
    assert result.precision >= 0.9, result.false_alerts
    assert all(set(r["evidence"]) == set(comparisons.M_PRIORS) for r in rows)


def test_saved_model_reloaded_gives_identical_scores(trained, tmp_path):
    con, _, model, _ = trained
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    scoring.score(con, model, threshold=0.01)
    first = scoring.match_rows(con)
    scoring.score(con, json.loads(path.read_text()), threshold=0.01)
    assert scoring.match_rows(con) == first


def test_name_rules_skip_keys_too_common_to_identify_anyone(landing):
    con = duckdb.connect()
    load_generated_day(con, landing, DAY)
    # 30 watchlist entries and one passenger share a name (photos unrelated)
    con.execute("UPDATE watchlist SET name_keys = ['ali hassan'] WHERE unique_id IN "
                "(SELECT unique_id FROM watchlist ORDER BY unique_id LIMIT 30)")
    scan = con.execute("SELECT unique_id FROM passengers ORDER BY unique_id LIMIT 1").fetchall()[0][0]
    con.execute("UPDATE passengers SET name_keys = ['ali hassan'] WHERE unique_id = ?", [scan])

    def rule_pairs(cap: int) -> int:
        candidates.build_candidates(con, candidates.CandidateConfig(max_entries_per_rule_key=cap))
        return con.execute("SELECT count(*) FROM candidate_pairs WHERE scan_id = ? AND via_rules", [scan]).fetchall()[0][0]

    assert rule_pairs(cap=50) >= 30
    assert rule_pairs(cap=20) < 30  # the shared name no longer pairs; a surname+DOB key still may


def test_hnsw_search_for_big_watchlists_finds_the_exact_neighbours(monkeypatch):
    """Beyond EXACT_SEARCH_MAX_WATCHLIST the photo search is HNSW; on photos of the same
    people (cosine ~0.8 against ~0 for strangers) it must find what exact search finds."""
    import numpy as np

    rng = np.random.default_rng(3)
    base = rng.standard_normal((4000, 128)).astype(np.float32)
    query = base[:500] + 0.5 * rng.standard_normal((500, 128)).astype(np.float32) / np.sqrt(128)
    for m in (base, query):
        m /= np.linalg.norm(m, axis=1, keepdims=True)
    config = candidates.CandidateConfig()
    exact_sims, exact_idx = candidates.photo_neighbours(query, base, 5, config)
    monkeypatch.setattr(candidates, "EXACT_SEARCH_MAX_WATCHLIST", 1000)
    hnsw_sims, hnsw_idx = candidates.photo_neighbours(query, base, 5, config)
    assert (hnsw_idx[:, 0] == np.arange(500)).all() and (exact_idx[:, 0] == np.arange(500)).all()
    assert np.allclose(hnsw_sims[:, 0], exact_sims[:, 0], atol=1e-5)
