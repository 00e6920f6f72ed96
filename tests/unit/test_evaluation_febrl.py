"""FEBRL through the project's own path (febrl.py: Splink comparison levels, em.py's EM in
turns, Splink's predict; grouping.py for FEBRL3): floors against the known links.

Plain Splink (its own training) measured on FEBRL3: pair F1 0.993, connected components
0.9985, maximal cliques 0.993; the floors below are above those."""
from __future__ import annotations

import duckdb
import numpy as np
import pytest

from watchlist_screening.evaluation import febrl
from watchlist_screening.linkage import em, linker, vectors


@pytest.fixture(scope="module")
def febrl4():
    return febrl.evaluate()      # ~4 s on an idle 2-core machine


@pytest.fixture(scope="module")
def febrl3():
    return febrl.evaluate_dedupe()   # ~3 s


def test_febrl4_links_at_near_perfect_f1(febrl4):
    assert febrl4.true_links == 5000
    # measured 1.000: 5,000 of 5,000 links, no false link, no one-to-one step
    assert febrl4.f1 >= 0.999, febrl4
    assert febrl4.precision >= 0.999 and febrl4.recall >= 0.999, febrl4
    assert not febrl4.one_to_one


def test_febrl4_parameters_come_from_the_projects_em(febrl4):
    notes = febrl4.notes
    assert len(notes["sessions"]) >= 2 and all(s["converged"] for s in notes["sessions"])
    # every comparison is taught by some session that does not block on it
    taught = {n for s in notes["sessions"] for n in s["taught"]}
    assert taught == set(notes["m"])
    # λ is the blocked pairs' own: ~5,000 expected matches among them
    assert abs(notes["final"]["expected_matches"] - 5000) < 50, notes["final"]


def test_febrl3_pairs_and_groups(febrl3):
    assert febrl3["records"] == 5000
    pairs = febrl3["pairs"]
    # measured: precision 1.0, recall 0.99985 (6,537 of 6,538), F1 0.99992
    assert pairs["precision"] >= 0.999 and pairs["recall"] >= 0.999, pairs
    # measured: components precision 1.0, recall 1.0; cliques precision 1.0, recall 0.99924
    for method in ("components", "cliques"):
        g = febrl3[method]
        assert g["cluster_precision"] >= 0.999 and g["cluster_recall"] >= 0.999, (method, g)


@pytest.mark.parametrize("dataset", ["febrl1", "febrl2"])
def test_held_out_febrl_sets(dataset):
    """Never looked at while the levels and blocking rules were chosen (febrl.py's notes)."""
    result = febrl.evaluate_dedupe(dataset=dataset)   # ~3 s each
    # measured 1.0 on both: pairs, components and cliques
    assert result["pairs"]["f1"] >= 0.999, result["pairs"]
    for method in ("components", "cliques"):
        assert result[method]["cluster_f1"] >= 0.999, (method, result[method])


def test_vectors_dedupe_only_and_link_only_agree_with_splinks_predict():
    """vectors.comparison_vectors on a small dedupe_only and link_only job: one row per
    blocked pair, and the posterior em.py computes from them equals Splink's predict with
    the same parameters (the gammas read back are Splink's levels)."""
    con = duckdb.connect()
    febrl.load_dedupe(con)
    con.execute(f"CREATE TABLE small AS SELECT * FROM {febrl.DEDUPE} WHERE entity::INT < 300")
    con.execute("CREATE TABLE small_a AS SELECT * FROM small WHERE unique_id LIKE '%org'")
    con.execute("CREATE TABLE small_b AS SELECT * FROM small WHERE unique_id NOT LIKE '%org'")
    for tables, link_type in ((["small"], "dedupe_only"), (["small_a", "small_b"], "link_only")):
        model, _ = febrl.train(con, tables, link_type)
        names, gammas, ids = vectors.comparison_vectors(con, model, tables)
        assert gammas.shape == (len(ids["unique_id_l"]), len(names)) and len(gammas) > 0
        rows = febrl.predict(con, model, tables, 0.0)
        assert len(rows) == len(gammas)
        splink_p = {(a, b): p for a, b, p, _ in rows}
        levels = [len(linker.non_null_levels(c)) for c in model["comparisons"]]
        m = [np.array([lvl["m_probability"] for lvl in linker.non_null_levels(c)][::-1]) for c in model["comparisons"]]
        u = [np.array([lvl["u_probability"] for lvl in linker.non_null_levels(c)][::-1]) for c in model["comparisons"]]
        assert all(len(x) == n for x, n in zip(m, levels))
        ours = em.posterior(gammas, model["probability_two_random_records_match"], m, u)
        theirs = np.array([splink_p[(a, b)] for a, b in zip(ids["unique_id_l"], ids["unique_id_r"])])
        assert np.allclose(ours, theirs, atol=1e-6), np.abs(ours - theirs).max()
