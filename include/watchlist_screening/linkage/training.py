"""Unsupervised training that survives how rare true matches are.

A day may hold ten sightings among 10^5 passengers × 10^4 watchlist entries, so Splink's
defaults fail (random sampling never reaches high photo similarity; EM finds nothing).
Each parameter is estimated deliberately, and `notes` records where it came from:

- u (non-photo): Splink's random sampling of passenger × watchlist pairs, which are
  non-matches with overwhelming probability.
- u (photo levels): a very large sample of passenger × watchlist photo similarities by
  matrix product. The rare true matches in it would dominate the top levels, so the
  impostor tail there is extrapolated (exponentially, i.e. conservatively) from the
  highest similarities the sample holds in numbers.
- m (photo, sex, eye colour): from duplicate listings in the watchlist (the same
  person listed by two agencies: two photos and two measurements of one person), shrunk
  towards the stated priors; priors alone when too few duplicates are found.
- u (nationality, place of birth): from photo-similar pairs with an impossible physique,
  because look-alikes share them more often than random pairs do.
- m (names, dates, places): stated priors (comparisons.M_PRIORS) — disguise behaviour
  cannot be learnt without labels; reviewer labels refine them later.
- λ: confident photo+physique pairs among the candidates over all possible pairs.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import duckdb
import numpy as np

from watchlist_screening.linkage.candidates import CANDIDATES, CandidateConfig, photo_neighbours
from watchlist_screening.linkage.comparisons import (
    CONFUSABLE_EYE_COLOURS,
    M_PRIORS,
    PHOTO,
    PHOTO_THRESHOLDS,
)
from watchlist_screening.linkage.linker import comparison_named, duckdb_linker, non_null_levels, settings_creator
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST, embeddings, scalar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    u_random_pairs: float = 2e6
    photo_sample_pairs: int = 50_000_000
    tail_fit_min_count: int = 100
    duplicate_min_similarity: float = 0.5
    duplicate_search_max: int = 100_000
    min_duplicates: int = 10
    prior_pseudo_pairs: float = 20.0
    lambda_assumed_recall: float = 0.9
    lambda_min_similarity: float = 0.7
    appearance_correlated: tuple = (("nationality", "nationality"), ("place_of_birth", "place_of_birth_norm"))
    appearance_pseudo_pairs: float = 5.0
    impossible_height_difference_cm: float = 10.0
    surname_term_frequencies: bool = False  # see comparisons.comparisons
    seed: int = 42


def _level_index(values: np.ndarray, thresholds: tuple[float, ...]) -> np.ndarray:
    """Level index of each photo similarity: 0 for >= thresholds[0] ... len for else."""
    index = np.full(values.shape, len(thresholds), dtype=np.int64)
    for i, t in reversed(list(enumerate(thresholds))):
        index[values >= t] = i
    return index


def _survival_with_fitted_tail(sims: np.ndarray, config: TrainingConfig):
    """S(t) = P(similarity >= t) for impostor pairs: empirical where the sample holds many
    pairs, an exponential tail fitted on the two highest well-populated thresholds beyond.

    The sample's top few pairs are the day's true matches, not impostors, so the highest
    levels cannot be read off it; an exponential tail is conservative (heavier than the
    Gaussian tail of random embeddings) and follows whatever tail the face model has.
    """
    grid = np.round(np.arange(-1.0, 1.0001, 0.01), 2)
    ordered = np.sort(sims)
    counts = len(ordered) - np.searchsorted(ordered, grid, side="left")
    n = len(ordered)
    t_mid = grid[np.nonzero(counts >= config.tail_fit_min_count * 10)[0].max()]
    t_top = grid[np.nonzero(counts >= config.tail_fit_min_count)[0].max()]
    s_mid = counts[grid == t_mid][0] / n
    s_top = counts[grid == t_top][0] / n
    rate = math.log(s_mid / s_top) / max(t_top - t_mid, 1e-9)

    def survival(t: float) -> float:
        if t == -math.inf:
            return 1.0
        if t == math.inf:
            return 0.0
        if t <= t_top:
            return float(np.count_nonzero(ordered >= t)) / n
        return s_top * math.exp(-rate * (t - t_top))

    return survival, {"tail_from": float(t_top), "tail_rate": rate, "fit_points": [float(t_mid), float(t_top)]}


def photo_u(p_vecs: np.ndarray, w_vecs: np.ndarray, photo_m: list[float], lam: float,
            config: TrainingConfig, candidate_sims: np.ndarray | None = None) -> tuple[list[float], dict]:
    """u per photo level = smooth impostor tail + look-alikes.

    Look-alikes (doppelgangers) are more common than any smooth tail predicts, and they are
    what raises false alerts. Their rate is the excess of similar pairs (>= the lowest
    threshold) over the expected true matches (λ·n) and the fitted tail, pooled over the
    whole band, and spread below the top level: a photo alone never outweighs a height or
    sex that cannot be the same person.

    The smooth tail comes from a random sample; the similar pairs are counted over every
    passenger × watchlist pair when `candidate_sims` (the photo similarities of the
    candidate pairs, which hold each passenger's nearest photos) is given. At 1M × 1M a
    50M-pair sample is 50 passengers and holds no look-alike at all.
    """
    rng = np.random.default_rng(config.seed)
    rows = min(len(p_vecs), max(1, config.photo_sample_pairs // max(1, len(w_vecs))))
    sample = p_vecs[rng.choice(len(p_vecs), rows, replace=False)] if rows < len(p_vecs) else p_vecs
    sims = (sample @ w_vecs.T).ravel()
    survival, fit = _survival_with_fitted_tail(sims, config)
    edges = [1.0, *PHOTO_THRESHOLDS, -math.inf]
    fitted = [survival(lo) - survival(hi if hi < 1.0 else math.inf) for hi, lo in zip(edges[:-1], edges[1:])]
    if candidate_sims is None:
        n, counted = sims.size, sims
    else:
        n, counted = len(p_vecs) * len(w_vecs), candidate_sims[candidate_sims >= PHOTO_THRESHOLDS[-1]]
    observed = np.bincount(_level_index(counted, PHOTO_THRESHOLDS), minlength=len(PHOTO_THRESHOLDS) + 1)
    observed[-1] = n - observed[:-1].sum()
    expected_true = lam * n
    # Excess per level, summed: pooled over the band, a tail that overshoots at its low end
    # (the exponential does at 10^12 pairs, where chance alone fills the 0.5 level) hid
    # every look-alike higher up, and 0.65-0.75 pairs outweighed an impossible height.
    widths = np.array([hi - lo for hi, lo in zip(edges[1:-2], edges[2:-1])])
    expected_per_level = np.array([expected_true * m for m in photo_m[1:-1]])
    excess = np.clip(observed[1:-1] - expected_per_level - n * np.array(fitted[1:-1]), 0, None)
    # at least one look-alike: a day that shows none has not shown they are impossible
    look_alikes = max(float(excess.sum()), 1.0)
    # Spread them over the levels below the top one: half evenly by width (a day is too
    # small to trust its shape), half where the day shows excess pairs. The top level is
    # left to the tail: near-identical photos are the same face.
    shares = 0.5 * widths / widths.sum() + (0.5 * excess / excess.sum() if excess.sum() > 0 else 0.5 * widths / widths.sum())
    u = [fitted[0]] + [f + look_alikes / n * share for f, share in zip(fitted[1:-1], shares)]
    u.append(1.0 - sum(u))
    return u, {
        "source": "passenger x watchlist photo similarities: fitted impostor tail plus a "
                  "look-alike rate (similar pairs beyond expected true matches and the tail, per level)",
        "sample_pairs": int(sims.size), "pairs_counted": int(n),
        "similar_pairs_from": "random sample" if candidate_sims is None else "candidate pairs (nearest photos)",
        **fit,
        "observed_counts_per_level": observed.tolist(),
        "expected_true_matches": round(expected_true, 2),
        "look_alikes_in_sample": round(look_alikes, 2),
    }


def monotone_u(m: list[float], u: list[float]) -> list[float]:
    """u adjusted so that the Bayes factor m/u never rises from one level to the next
    (levels ordered most similar first), by pooling adjacent violators.

    Estimated u (a fitted tail plus a look-alike share) can leave a lower similarity level
    weighing more than a higher one, which no reviewer could defend. A pool's Bayes factor
    is its total m over its total u, so the pooled u keeps each pool's total: u still sums
    to what it did, and m is left alone.
    """
    pools: list[list] = []  # [sum_m, sum_u, first_level, last_level]
    for i, (mi, ui) in enumerate(zip(m, u)):
        pools.append([mi, ui, i, i])
        while len(pools) > 1 and pools[-2][0] * pools[-1][1] < pools[-1][0] * pools[-2][1]:
            last = pools.pop()
            pools[-1][0] += last[0]
            pools[-1][1] += last[1]
            pools[-1][3] = last[3]
    out = list(u)
    for sum_m, sum_u, first, last in pools:
        if first == last or sum_m == 0:
            continue
        for i in range(first, last + 1):
            out[i] = m[i] * sum_u / sum_m
    return out


def _shrunk(counts: np.ndarray, prior: list[float], pseudo: float) -> list[float]:
    probs = (counts + pseudo * np.asarray(prior)) / (counts.sum() + pseudo)
    return [float(p) for p in probs]


def duplicate_listing_m(con: duckdb.DuckDBPyConnection, w_ids, w_vecs, config: TrainingConfig) -> tuple[dict, dict]:
    """m for photo and physique from watchlist entries that list the same person twice."""
    if len(w_ids) > config.duplicate_search_max:
        # An exact search within a random subset: at 1M entries a second ANN index over the
        # whole list would cost as much as the day's candidates, and a 10% subset still
        # holds about 1% of the duplicate pairs (hundreds), plenty for a handful of m values.
        keep = np.sort(np.random.default_rng(config.seed).choice(len(w_ids), config.duplicate_search_max, replace=False))
        w_ids, w_vecs = [w_ids[i] for i in keep], w_vecs[keep]
    sims, idx = photo_neighbours(w_vecs, w_vecs, 4, CandidateConfig())
    pairs = {
        (min(i, int(j)), max(i, int(j))): float(s)
        for i, (row_s, row_j) in enumerate(zip(sims, idx))
        for s, j in zip(row_s, row_j)
        if j >= 0 and j != i and s >= config.duplicate_min_similarity
    }
    if not pairs:
        return {}, {"source": "priors (no duplicate listings found)", "duplicate_pairs": 0}
    con.execute("CREATE OR REPLACE TEMP TABLE dup_pairs (a VARCHAR, b VARCHAR, sim DOUBLE)")
    con.executemany("INSERT INTO dup_pairs VALUES (?, ?, ?)", [(w_ids[i], w_ids[j], s) for (i, j), s in pairs.items()])
    rows = con.execute(f"""
        SELECT d.sim, a.sex = b.sex, abs(a.height_cm - b.height_cm), a.eye_colour, b.eye_colour
        FROM dup_pairs d JOIN {WATCHLIST} a ON a.unique_id = d.a JOIN {WATCHLIST} b ON b.unique_id = d.b""").fetchall()
    sims_arr = np.array([r[0] for r in rows])
    same_sex = np.array([r[1] for r in rows])
    height_diff = np.array([r[2] for r in rows])
    # Photo m from pairs whose physique agrees (they are duplicates, not look-alikes);
    # physique m from pairs whose photos are near-certain (>= 0.7).
    physique_ok = same_sex & (height_diff <= 10)
    if physique_ok.sum() < config.min_duplicates:
        return {}, {"source": "priors (too few duplicate listings)", "duplicate_pairs": int(physique_ok.sum())}
    photo_counts = np.bincount(_level_index(sims_arr[physique_ok], PHOTO_THRESHOLDS), minlength=len(PHOTO_THRESHOLDS) + 1)
    # Pairs below the lowest threshold are invisible here, so keep the prior's else mass.
    prior = M_PRIORS[PHOTO]
    top = _shrunk(photo_counts[:-1].astype(float), [p / sum(prior[:-1]) for p in prior[:-1]], config.prior_pseudo_pairs)
    estimates = {PHOTO: [p * (1 - prior[-1]) for p in top] + [prior[-1]]}
    confident = sims_arr >= 0.7
    sex_counts = np.array([same_sex[confident].sum(), (~same_sex[confident]).sum()], dtype=float)
    groups = {c: g for g, group in enumerate(CONFUSABLE_EYE_COLOURS) for c in group}
    eye_counts = np.zeros(3)
    for r, ok in zip(rows, confident):
        if ok:
            a, b = r[3], r[4]
            eye_counts[0 if a == b else 1 if a in groups and groups.get(a) == groups.get(b) else 2] += 1
    # Height is not taken from duplicates: two agencies' listings agree more closely than a
    # passport scanner agrees with a listing, which is the noise that matters here.
    for name, counts in (("sex", sex_counts), ("eye_colour", eye_counts)):
        estimates[name] = _shrunk(counts, M_PRIORS[name], config.prior_pseudo_pairs)
    return estimates, {
        "source": "watchlist duplicate listings, shrunk towards priors",
        "duplicate_pairs": int(physique_ok.sum()),
        "confident_pairs": int(confident.sum()),
        "prior_pseudo_pairs": config.prior_pseudo_pairs,
    }


def appearance_correlated_u(con: duckdb.DuckDBPyConnection, model: dict, config: TrainingConfig) -> dict:
    """u for identity fields that go with appearance (nationality, place of birth), from
    non-matching pairs whose photos are similar.

    Look-alikes tend to come from the same population as the person they resemble, so
    among photo-similar pairs these fields agree far more often than among random pairs.
    Scored pairs are photo-similar, so that is where u must hold. Pairs with a physique
    that cannot be the same person are the non-matches; few per day, so shrunk towards the
    random-sampling u.
    """
    notes = {}
    for name, column in config.appearance_correlated:
        agree, total = con.execute(f"""
            SELECT count(*) FILTER (WHERE p.{column} = w.{column}), count(*)
            FROM {CANDIDATES} c
            JOIN {PASSENGERS} p ON p.unique_id = c.scan_id JOIN {WATCHLIST} w ON w.unique_id = c.subject_id
            WHERE c.photo_similarity >= {PHOTO_THRESHOLDS[-1]}
              AND (p.sex <> w.sex OR abs(p.height_cm - w.height_cm) > {config.impossible_height_difference_cm})
              AND p.{column} IS NOT NULL AND w.{column} IS NOT NULL""").fetchall()[0]
        levels = non_null_levels(comparison_named(model, name))
        random_u = levels[0]["u_probability"]
        u_agree = (agree + config.appearance_pseudo_pairs * random_u) / (total + config.appearance_pseudo_pairs)
        levels[0]["u_probability"], levels[1]["u_probability"] = u_agree, 1.0 - u_agree
        notes[name] = {"photo_similar_non_matches": int(total), "agreeing": int(agree),
                       "random_sampling_u": random_u, "u": u_agree}
    return {"source": "photo-similar pairs with an impossible physique, shrunk towards random sampling", **notes}


def estimate_lambda(con: duckdb.DuckDBPyConnection, counts: dict[str, int], config: TrainingConfig) -> tuple[float, dict]:
    confident = scalar(con, f"""
        SELECT count(*) FROM {CANDIDATES} c
        JOIN {PASSENGERS} p ON p.unique_id = c.scan_id JOIN {WATCHLIST} w ON w.unique_id = c.subject_id
        WHERE c.photo_similarity >= {config.lambda_min_similarity} AND p.sex = w.sex
          AND abs(p.height_cm - w.height_cm) <= 5""")
    total = counts[PASSENGERS] * counts[WATCHLIST]
    value = max(confident, 1) / config.lambda_assumed_recall / max(total, 1)
    return min(value, 0.5), {
        "source": "confident photo+physique candidate pairs / all pairs / assumed recall",
        "confident_pairs": int(confident), "all_pairs": int(total),
        "assumed_recall": config.lambda_assumed_recall,
    }


def train(con: duckdb.DuckDBPyConnection, counts: dict[str, int], config: TrainingConfig = TrainingConfig()) -> tuple[dict, dict]:
    """Train on the loaded `passengers`/`watchlist` and `candidate_pairs`; return
    (Splink model dict, notes on where each parameter came from)."""
    linker, _ = duckdb_linker(con, settings_creator(surname_term_frequencies=config.surname_term_frequencies))
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_random_pairs, seed=config.seed)
    model = linker.misc.save_model_to_json()

    p_ids, p_vecs = embeddings(con, PASSENGERS)
    w_ids, w_vecs = embeddings(con, WATCHLIST)
    notes: dict = {"parameters": {}}
    lam, notes["parameters"]["lambda"] = estimate_lambda(con, counts, config)
    model["probability_two_random_records_match"] = lam

    estimated_m, notes["parameters"]["m_physical"] = duplicate_listing_m(con, w_ids, w_vecs, config)
    for name, prior in M_PRIORS.items():
        values = estimated_m.get(name, prior)
        levels = non_null_levels(comparison_named(model, name))
        if len(levels) != len(values):
            raise ValueError(f"M_PRIORS[{name!r}] has {len(values)} values for {len(levels)} levels")
        for level, value in zip(levels, values):
            level["m_probability"] = value
        notes["parameters"].setdefault("m_sources", {})[name] = "data" if name in estimated_m else "prior"

    notes["parameters"]["u_appearance_correlated"] = appearance_correlated_u(con, model, config)
    photo_levels = non_null_levels(comparison_named(model, PHOTO))
    photo_m = [lvl["m_probability"] for lvl in photo_levels]
    candidate_sims = con.sql(f"SELECT photo_similarity FROM {CANDIDATES}").fetchnumpy()["photo_similarity"]
    u, photo_notes = photo_u(p_vecs, w_vecs, photo_m, lam, config, candidate_sims=np.asarray(candidate_sims))
    monotone = monotone_u(photo_m, u)
    if monotone != u:
        photo_notes["u_before_monotone"], u = u, monotone
        photo_notes["monotone"] = "adjacent levels pooled so match weights never fall as similarity rises"
    notes["parameters"]["u_" + PHOTO] = photo_notes
    for level, value in zip(photo_levels, u):
        level["u_probability"] = value
    for comparison in model["comparisons"]:
        for level in non_null_levels(comparison):
            # A level never seen among random pairs gets a tiny u rather than none, so the
            # model stays defined (Splink would otherwise treat it as untrained).
            level.setdefault("u_probability", 1.0 / config.u_random_pairs)

    notes["term_frequencies"] = (
        "surname level TF-adjusted (Splink term_frequency_adjustments on surname_norm)"
        if config.surname_term_frequencies else
        "none: a TF-adjusted surname level was measured at scale a and changed nothing at thresholds "
        "0.3-0.99, cost precision at 0.2 (0.937 vs 0.941), so it is off (TrainingConfig.surname_term_frequencies)")
    notes["training_rows"] = counts
    return model, notes
