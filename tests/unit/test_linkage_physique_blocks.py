"""The photo search blocked on sex: it finds, for every passenger, exactly the k most similar
entries among those its recorded sex allows, and nothing it would have found unblocked
within those is lost."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from watchlist_screening.linkage import physique_blocks
from watchlist_screening.linkage.candidates import CandidateConfig, blocked_photo_neighbours, photo_neighbours

SEXES = ("F", "M", "X", None)
EXACT = CandidateConfig(photo_blocking="sex")


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.normal(size=(n, 128)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _allowed(query_sex, base_sex) -> bool:
    """Who a passenger can be, read from the contract: same recorded sex, unless either is not F/M."""
    if query_sex not in ("F", "M") or base_sex not in ("F", "M"):
        return True
    return query_sex == base_sex


def _brute_force(query, query_sex, base, base_sex, k):
    """Each query's k best allowed base rows by plain numpy (ties broken by row)."""
    scores = query @ base.T
    best = []
    for row, sex in enumerate(query_sex):
        allowed = [j for j in range(len(base)) if _allowed(sex, base_sex[j])]
        best.append(sorted(allowed, key=lambda j: (-scores[row, j], j))[:k])
    return best


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_query=st.integers(0, 25), n_base=st.integers(0, 40),
       k=st.integers(1, 12), query_sexes=st.lists(st.sampled_from(SEXES), min_size=25, max_size=25),
       base_sexes=st.lists(st.sampled_from(SEXES), min_size=40, max_size=40))
def test_blocked_search_is_the_exact_search_among_the_allowed(seed, n_query, n_base, k, query_sexes, base_sexes):
    rng = np.random.default_rng(seed)
    query, base = _unit(rng, n_query), _unit(rng, n_base)
    query_sex, base_sex = query_sexes[:n_query], base_sexes[:n_base]
    sims, idx = blocked_photo_neighbours(query, query_sex, base, base_sex, k, EXACT)
    expected = _brute_force(query, query_sex, base, base_sex, min(k, n_base))
    assert idx.shape == (n_query, min(k, n_base))
    for row in range(n_query):
        found = [int(j) for j in idx[row] if j >= 0]
        assert set(found) == set(expected[row]), row
        assert all(_allowed(query_sex[row], base_sex[j]) for j in found)
        np.testing.assert_allclose(sims[row, :len(found)], [query[row] @ base[j] for j in found], atol=1e-5)


def test_nothing_the_unblocked_search_found_within_the_block_is_lost():
    rng = np.random.default_rng(3)
    query, base = _unit(rng, 300), _unit(rng, 2_000)
    query_sex = rng.choice(["F", "M", "X"], size=300, p=[0.49, 0.49, 0.02])
    base_sex = rng.choice(["F", "M", "X"], size=2_000, p=[0.49, 0.49, 0.02])
    _, unblocked = photo_neighbours(query, base, 10, EXACT)
    _, blocked = blocked_photo_neighbours(query, query_sex, base, base_sex, 10, EXACT)
    for row in range(300):
        kept = {int(j) for j in unblocked[row] if _allowed(query_sex[row], base_sex[j])}
        assert kept <= set(blocked[row].tolist())


def test_a_look_alike_of_the_other_sex_no_longer_pushes_the_true_entry_out():
    rng = np.random.default_rng(5)
    face = _unit(rng, 1)[0]
    noise = _unit(rng, 12)
    # 10 look-alikes of the other sex, all closer than the person's own listing
    lookalikes = np.stack([face + 0.2 * n for n in noise[:10]])
    listing = face + 0.6 * noise[10]
    base = np.vstack([lookalikes, listing[None, :], _unit(rng, 50)]).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    base_sex = ["M"] * 10 + ["F"] + list(rng.choice(["F", "M"], size=50))
    query = face[None, :].astype(np.float32)
    _, unblocked = photo_neighbours(query, base, 10, EXACT)
    _, blocked = blocked_photo_neighbours(query, ["F"], base, base_sex, 10, EXACT)
    assert 10 not in unblocked[0]
    assert 10 in blocked[0]


def test_share_searched_halves_for_two_even_sexes_and_x_sees_all():
    assert physique_blocks.share_searched(["F", "M"], ["F", "M"]) == pytest.approx(0.5)
    assert physique_blocks.share_searched(["X"], ["F", "M", "X"]) == pytest.approx(1.0)
    # an X entry is in both blocks: F sees F and X (2 of 3), M sees M and X
    assert physique_blocks.share_searched(["F", "M"], ["F", "M", "X"]) == pytest.approx(2 / 3)
    assert physique_blocks.share_searched([], ["F"]) == 0.0


def test_no_blocking_is_one_search_and_an_unknown_blocking_is_refused():
    rng = np.random.default_rng(9)
    query, base = _unit(rng, 20), _unit(rng, 30)
    config = CandidateConfig()   # the default: one search
    _, idx = blocked_photo_neighbours(query, ["F"] * 20, base, ["M"] * 30, 5, config)
    np.testing.assert_array_equal(idx, photo_neighbours(query, base, 5, config)[1])
    with pytest.raises(ValueError, match="photo_blocking must be one of auto, sex, none"):
        CandidateConfig(photo_blocking="height")


def test_auto_blocks_by_sex_only_once_the_search_is_big_enough():
    rng = np.random.default_rng(10)
    query, base = _unit(rng, 20), _unit(rng, 30)
    small = CandidateConfig(photo_blocking="auto", auto_blocking_products=20 * 30 + 1)
    big = CandidateConfig(photo_blocking="auto", auto_blocking_products=20 * 30)
    assert (small.blocking_for(20, 30), big.blocking_for(20, 30)) == ("none", "sex")
    assert CandidateConfig(photo_blocking="sex").blocking_for(1, 1) == "sex"
    # the default threshold: a full-scale day is blocked, the grid's days are not
    default = CandidateConfig(photo_blocking="auto")
    assert default.blocking_for(1_000_000, 1_000_000) == "sex" and default.blocking_for(100_000, 20_000) == "none"
    # below the threshold the same answer as one search; above, the sex-blocked one's
    _, unblocked = blocked_photo_neighbours(query, ["F"] * 20, base, ["M"] * 15 + ["F"] * 15, 5, small)
    np.testing.assert_array_equal(unblocked, photo_neighbours(query, base, 5, small)[1])
    _, blocked = blocked_photo_neighbours(query, ["F"] * 20, base, ["M"] * 15 + ["F"] * 15, 5, big)
    assert (blocked >= 15).all()
