"""Unsupervised training on the day at hand: every m, u and λ estimated from its data
(the default, WATCHLIST_TRAINING_METHOD=em; `priors` selects the earlier training.py).

A day may hold ten sightings among 10^5 passengers × 10^4 watchlist entries: among all
pairs, EM finds nothing. Among the day's candidate pairs (each passenger's nearest
watchlist photos, OR-ed with name/date rules) wanted people are dense enough to learn
from, and every pair that is ever scored is one of them. So the model is fitted, and used,
conditionally on a pair being a candidate:

1. Photo levels from the day's similarity distributions (photo_levels.py).
2. Comparison vectors of every candidate pair, built by Splink (`predict`).
3. In turns, as Splink's training guide does, each comparison taught by pairs that the
   others make dense in matches (em.py; u held at the candidates' level shares, as Splink
   holds random-sampling u):
   a. physique (sex, height, eye colour): EM on the candidates whose photos are more alike
      than the random pairs' tail can explain;
   b. identity (names, dates, places, nationality): one M-step from (a)'s posteriors on the
      same pairs (EM left free splits matches by how they travel instead);
   c. photo: pairs agreeing on name, date of birth and physique, with the namesakes among
      them (strangers' faces, whose level shares the random pairs give) taken off; above
      (a)'s cut (a)'s expected matches instead, unless the identity-agreeing pairs there
      are enough (`anchor_only_pairs`): (a) counts look-alikes who share a build among
      the matches, and a look-alike never travels under the listed identity;
   d. λ and every u: EM over all candidates, every m held.
   Priors are uniform Dirichlet pseudo-counts of stated weight (`m_prior_pairs`): they
   regularise a level no match reached, never override one the day has evidence on, and
   notes record the evidence behind each m. Where wanted people travel under new
   identities, identity disagreement gets little weight because the day shows it.
4. Photo weights made monotone (pooling adjacent violators): a more similar face never
   counts for less.
5. A threshold from the model's own posteriors and a stated cost: alert when the
   probability is at least 1 / (1 + miss_cost) (recall first: a miss costs more).

Posteriors are calibrated for candidate pairs: λ and u describe candidates, not all pairs.
Duplicate watchlist listings and same-day passengers are scored with the same model in
grouping.py: those pairs are photo neighbours too, the population the model describes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import numpy as np

from watchlist_screening.linkage import em, vectors
from watchlist_screening.linkage.candidates import CANDIDATES, SPLINK_BLOCKED_PAIRS
from watchlist_screening.linkage.comparisons import PHOTO, split_by_face_band
from watchlist_screening.linkage.linker import non_null_levels, settings_creator
from watchlist_screening.linkage.photo_levels import (
    PhotoLevelConfig,
    choose_thresholds,
    impostor_survival,
    random_pair_similarities,
)
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST, embeddings
from watchlist_screening.linkage.training import monotone_u

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EMTrainingConfig:
    photo_sample_pairs: int = 20_000_000
    photo_levels: PhotoLevelConfig = PhotoLevelConfig()
    # Dirichlet pseudo-counts, in pairs: the prior's weight against the day's evidence.
    m_prior_pairs: float = 2.0
    u_prior_pairs: float = 1.0
    em_max_iterations: int = 300
    # EM's first session: photo levels where candidates outnumber the random pairs' tail
    dense_ratio: float = 2.0
    # Photo m from pairs in the top levels (0 = top only) of all these comparisons
    # names, dates, places and nationality as one comparison (comparisons.IDENTITY)
    joint_identity: bool = True
    anchor_levels: tuple[tuple[str, int], ...] = (("identity", 0), ("sex", 0), ("height_cm", 1))
    min_anchor_pairs: int = 10
    # from this many identity-agreeing pairs above session 1's cut, they alone give the
    # photo's m there (None: session 1's expected matches always)
    anchor_only_pairs: float | None = 40
    min_namesake_pairs: int = 50
    unlike_face_m: float = 1e-9
    prior_impostor_share: float = 1e-3
    min_dense_pairs: int = 10
    # what a wanted person cannot change: taught first, alone
    physique: tuple[str, ...] = ("sex", "height_cm", "eye_colour")
    # prior means of their m, most similar level first (levels: same/other; <=2, <=4, <=7,
    # <=10 cm, more; same, commonly confused, other)
    physique_prior_pairs: float = 10.0
    # the physique's u per face band (comparisons.split_by_face_band); the band starts at
    # the lowest photo level where candidates are `face_band_ratio` times the random
    # pairs' tail
    split_physique_by_face: bool = True
    face_band_ratio: float = 10.0
    # pseudo-pairs per band of the physique u's prior (every candidate's level shares)
    face_band_prior_pairs: float = 10.0
    # under this many expected matches (session 1) the pipeline trains with the stated
    # priors instead (screen_day.train_model): a day that small cannot teach the model
    min_expected_matches: int = 20
    physique_prior: tuple = (("sex", (0.99, 0.01)), ("height_cm", (0.4, 0.3, 0.2, 0.09, 0.01)),
                             ("eye_colour", (0.9, 0.09, 0.01)))
    miss_cost: float = 3.0
    threshold_grid: tuple[float, ...] = tuple(round(x, 3) for x in (
        0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))
    surname_term_frequencies: bool = False  # see comparisons.comparisons
    seed: int = 42
    # the joint identity comparison (None: the clear one, comparisons.IDENTITY's); the
    # encoded mode's levels read Dice of CLKs (encoded_comparisons.encoded_identity)
    identity: object = None


def comparison_vectors(con: duckdb.DuckDBPyConnection, model: dict) -> tuple[list[str], np.ndarray]:
    """(comparison names, pairs × comparisons gamma matrix) of every candidate pair, as
    Splink's predict computes them, so the level definitions stay Splink's (vectors.py)."""
    names, gammas, _ = vectors.comparison_vectors(con, model, [PASSENGERS, WATCHLIST],
                                                  blocked_pairs=SPLINK_BLOCKED_PAIRS)
    return names, gammas


def _from_gamma_order(values: np.ndarray) -> list[float]:
    """Gamma values run from the else level (0) upwards; model levels most similar first."""
    return [float(v) for v in np.asarray(values)[::-1]]


def _start(gammas: np.ndarray, levels: list[int], seed: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """EM's starting m (level shares among `seed` pairs) and u (among all), add-one."""
    m0, u0 = [], []
    for k, n_levels in enumerate(levels):
        g = gammas[:, k]
        known_seed, known_all = g[seed & (g >= 0)], g[g >= 0]
        m0.append((np.bincount(known_seed, minlength=n_levels)[:n_levels] + 1.0) / (len(known_seed) + n_levels))
        u0.append((np.bincount(known_all, minlength=n_levels)[:n_levels] + 1.0) / (len(known_all) + n_levels))
    return m0, u0


def _namesake_levels(con: duckdb.DuckDBPyConnection, thresholds: tuple[float, ...],
                     config: "EMTrainingConfig") -> tuple[np.ndarray | None, str]:
    """Photo level shares (gamma order) of the rule candidates whose sex differs."""
    sims = np.asarray(con.sql(f"""
        SELECT c.photo_similarity FROM {CANDIDATES} c
        JOIN {PASSENGERS} p ON p.unique_id = c.scan_id JOIN {WATCHLIST} w ON w.unique_id = c.subject_id
        WHERE c.via_rules AND p.sex <> w.sex""").fetchnumpy()["photo_similarity"], dtype=np.float64)
    if len(sims) < config.min_namesake_pairs:
        return None, f"strangers as random pairs: only {len(sims)} namesakes of another sex"
    shares = np.bincount(np.searchsorted(np.array(sorted(thresholds)), sims, side="right"),
                         minlength=len(thresholds) + 1).astype(float)
    # every level possible for a stranger: half a pair where none was seen
    shares = (shares + 0.5) / (shares.sum() + 0.5 * len(shares))
    return shares, f"strangers' faces from {len(sims)} namesakes of another sex"


def recommend_threshold(posteriors: np.ndarray, config: "EMTrainingConfig") -> tuple[float, dict]:
    """The Bayes decision with a stated cost: alert when p >= 1 / (1 + miss_cost), where a
    missed wanted person costs `miss_cost` false alerts (recall first: miss_cost > 1). It
    minimises the expected cost when the posteriors are calibrated; the table beside it
    is what the model itself expects at each threshold (the bench holds it against truth)."""
    expected = float(posteriors.sum())
    table = []
    for t in config.threshold_grid:
        kept = posteriors >= t
        table.append({"threshold": t, "pairs": int(kept.sum()),
                      "expected_recall": round(float(posteriors[kept].sum()) / expected, 4) if expected else None,
                      "expected_precision": round(float(posteriors[kept].mean()), 4) if kept.any() else None})
    chosen = round(1.0 / (1.0 + config.miss_cost), 4)
    return chosen, {"source": f"Bayes decision: a missed wanted person costs {config.miss_cost:g} false alerts, "
                              f"so alert at p >= 1/(1+{config.miss_cost:g})",
                    "expected_matches": round(expected, 2), "table": table}


def train(con: duckdb.DuckDBPyConnection, counts: dict[str, int], config: EMTrainingConfig = EMTrainingConfig()) -> tuple[dict, dict]:
    """Train on the loaded `passengers`/`watchlist` and `candidate_pairs`; return
    (Splink model dict, notes on where each parameter came from)."""
    notes: dict = {"parameters": {}, "training_rows": counts}
    p_ids, p_vecs = embeddings(con, PASSENGERS)
    w_ids, w_vecs = embeddings(con, WATCHLIST)
    impostor = random_pair_similarities(p_vecs, w_vecs, config.photo_sample_pairs, config.seed)
    del p_vecs, w_vecs
    candidate_sims = np.asarray(con.sql(f"SELECT photo_similarity FROM {CANDIDATES}").fetchnumpy()["photo_similarity"],
                                dtype=np.float64)
    thresholds, notes["parameters"]["photo_levels"] = choose_thresholds(
        impostor, candidate_sims, config.photo_levels, sampled_passengers=len(impostor) // max(counts[WATCHLIST], 1))
    # share of random pairs per photo level, in gamma order (0 = else level)
    edges = np.array(sorted(thresholds))
    impostor_levels = np.bincount(np.searchsorted(edges, impostor, side="right"), minlength=len(edges) + 1)
    impostor_levels = impostor_levels / max(impostor_levels.sum(), 1)

    model = settings_creator(surname_term_frequencies=config.surname_term_frequencies,
                             photo_thresholds=thresholds, joint_identity=config.joint_identity,
                             identity=config.identity).get_settings("duckdb").as_dict()
    names, gammas = comparison_vectors(con, model)
    if len(gammas) == 0:
        raise ValueError("no candidate pairs to train on")
    comparisons = {c["output_column_name"]: c for c in model["comparisons"]}
    levels = [len(non_null_levels(comparisons[n])) for n in names]

    photo_k = names.index(PHOTO)
    n_photo = levels[photo_k]
    all_pairs = counts[PASSENGERS] * counts[WATCHLIST]
    survival = impostor_survival(impostor)
    del impostor
    # Session 1, where matches are dense: candidates more photo-similar than chance
    # explains (observed pairs above t at least `dense_ratio` times the impostors the
    # random pairs' tail predicts among all pairs). They teach every comparison but the
    # photo, which chose them.
    ordered = np.sort(candidate_sims)
    cut_index, dense = 0, []
    for i, t in enumerate(thresholds):
        observed = len(ordered) - np.searchsorted(ordered, t, side="left")
        expected = survival(t) * all_pairs
        dense.append({"threshold": t, "candidates_above": int(observed), "impostors_expected": round(expected, 1)})
        if observed >= config.dense_ratio * expected and observed >= config.min_dense_pairs:
            cut_index = i
        elif i > 0 and dense[i - 1]["candidates_above"] >= config.min_dense_pairs:
            break
    photo_gamma_cut = n_photo - 1 - cut_index
    block = gammas[:, photo_k] >= photo_gamma_cut
    session1 = gammas[block].copy()
    session1[:, photo_k] = -1
    # m starts from the block's level shares; u is every candidate's level shares (all but
    # a few in ten thousand are non-matches), held fixed as Splink holds random-sampling u
    m_start, u_start = _start(gammas, levels, block)
    uniform = [np.full(n_levels, 1.0 / n_levels) for n_levels in levels]
    # What a wanted person cannot change (the data contract: sex, height up to measurement,
    # eye colour up to the usual confusions) shapes the physique priors: most of their
    # pseudo-pairs on agreement, so a day with ten sightings does not read a different sex
    # as weak evidence. Their weight, `physique_prior_pairs`, is a tenth of a 100-sighting
    # day's evidence: data outweighs them.
    priors = [np.asarray(dict(config.physique_prior)[n][::-1], float) if n in dict(config.physique_prior)
              else uniform[k] for k, n in enumerate(names)]
    weights = [config.physique_prior_pairs if n in dict(config.physique_prior) else config.m_prior_pairs
               for n in names]
    # In two turns: physique alone first (identity fields agree or disagree together,
    # by how a wanted person travels, and EM left free splits the matches along that
    # instead of from the strangers); then identity with the physique m held.
    physique = [names.index(n) for n in config.physique if n in names]
    body_only = session1.copy()
    body_only[:, [k for k in range(len(levels)) if k not in physique]] = -1
    b_unique, b_counts, _ = em.patterns(body_only)
    body = em.fit(b_unique, b_counts, levels, m_start, u_start, 0.5, m_prior=priors, m_prior_weight=weights,
                  max_iterations=config.em_max_iterations)
    # Identity m: one M-step from the physique's posteriors, not EM: left to iterate, EM
    # drifts to "the matches are those who travel as themselves" even with the physique
    # held, since identity fields agree or disagree all together.
    _, b_inverse = np.unique(body_only, axis=0, return_inverse=True)
    responsibility = em.posterior(b_unique, body.lam, body.m, body.u)[b_inverse.ravel()]
    first_m, evidence = [], {}
    for k, n_levels in enumerate(levels):
        g = session1[:, k]
        known = g >= 0
        counts_k = np.bincount(g[known], weights=responsibility[known], minlength=n_levels)[:n_levels]
        evidence[k] = float(counts_k.sum())
        if k in physique or k == photo_k:
            first_m.append(body.m[k])
            continue
        first_m.append((counts_k + weights[k] * uniform[k]) / (counts_k.sum() + weights[k]))
    first = em.EMResult(lam=body.lam, m=first_m, u=u_start, iterations=body.iterations, converged=body.converged,
                        expected_matches=float(responsibility.sum()))
    # Session 2, the photo levels, from pairs that agree on identity and physique so
    # closely that they are the same person whatever their faces (a name within
    # Jaro-Winkler 0.95, a listed date of birth, same sex, height within the two closest
    # levels): their faces are the matches' faces. EM would not do here: with the photo
    # free it calls every pair whose physique agrees by chance a match. Where few wanted
    # people travel as themselves, the first session's matches fill in (their posterior
    # mass per photo level, above its cut only).
    anchors = np.ones(len(gammas), bool)
    for name, top in config.anchor_levels:
        k = names.index(name)
        anchors &= gammas[:, k] >= levels[k] - 1 - top
    photo_counts = np.bincount(gammas[anchors, photo_k][gammas[anchors, photo_k] >= 0], minlength=n_photo)[:n_photo]
    # Namesakes who happen to share a date and a build are among them, with strangers'
    # faces. Which strangers' faces: those of the pairs the name and date rules found whose
    # sex differs (namesakes, never the person), which in a population with structure are
    # more alike than random pairs; the random pairs' shares where too few. The counts are
    # unmixed into matches and such strangers.
    namesakes, namesake_source = _namesake_levels(con, thresholds, config)
    known = namesakes if namesakes is not None else impostor_levels
    # Strangers are counted where at least `prior_impostor_share` of random pairs reach
    # (a face no more alike than one stranger in a thousand is taken for a stranger's):
    # their number there over their share there is how many there are.
    above = np.cumsum(impostor_levels[::-1])[::-1]   # share of random pairs at or above each level
    supported = above <= config.prior_impostor_share
    photo_counts, anchor_share = em.unmix(photo_counts.astype(float), known, max(int((~supported).sum()), 1))
    photo_source = (f"{int(anchors.sum())} pairs agreeing on name, date of birth and physique, "
                    f"{anchor_share:.0%} of them matches after unmixing strangers' faces ({namesake_source})")
    # Above session 1's cut, its expected matches (every sighting there, whatever identity
    # it travels under) say more than the identity-agreeing few; below it only the
    # identity-agreeing pairs can speak, scaled to the same population.
    block_counts = np.bincount(gammas[block, photo_k], weights=responsibility, minlength=n_photo)[:n_photo]
    above_cut = np.arange(n_photo) >= photo_gamma_cut
    anchored_above = photo_counts[above_cut].sum()
    scale = block_counts[above_cut].sum() / anchored_above if anchored_above > 0 else 1.0
    if anchors.sum() < config.min_anchor_pairs:
        photo_counts = block_counts
        photo_source = (f"only {int(anchors.sum())} identity-agreeing pairs: session 1's expected matches "
                        f"({photo_counts.sum():.1f}) per photo level above its cut")
    elif config.anchor_only_pairs is not None and anchored_above >= config.anchor_only_pairs:
        # Enough identity-agreeing pairs above the cut to give the shape there too: theirs,
        # not session 1's, which counts look-alikes who share a build among the matches
        # (a look-alike never travels under the listed identity).
        photo_counts = photo_counts * scale
        photo_source += f"; every level from them ({anchored_above:.0f} above {thresholds[cut_index]})"
    else:
        photo_counts = np.where(above_cut, block_counts, photo_counts * scale)
        photo_source += (f"; above {thresholds[cut_index]} session 1's {block_counts.sum():.1f} expected matches "
                         f"instead, the anchors below it scaled by {scale:.2f}")
    # The prior spreads its pseudo-pairs over the levels where fewer than
    # `prior_impostor_share` of random pairs reach (a face that alike is rare among
    # strangers), not over the strangers' range: there a level holds matches only if the
    # identity-agreeing pairs show some after unmixing. A level with none gets
    # `unlike_face_m` (about -27 bits against the candidates' u), so that no agreement of
    # names and dates, which namesakes have, outweighs a face unlike the listing.
    photo_m = photo_counts + supported * config.m_prior_pairs / max(supported.sum(), 1)
    evidence[photo_k] = float(photo_counts.sum())
    photo_m = np.maximum(photo_m / photo_m.sum(), config.unlike_face_m)
    photo_m = photo_m / photo_m.sum()
    # λ and u over every candidate, with every m held: the matches at the top photo
    # levels are most of the candidates there, so u is their non-match share, not all.
    # The physique's u once per face band (comparisons.split_by_face_band): strangers whose
    # faces are alike share a build more often than the random pairs most candidates are.
    # In gamma order a split level is the level + its comparison's level count if alike.
    all_m = {k: (photo_m if k == photo_k else first.m[k]) for k in range(len(levels))}
    # The band: faces more alike than chance explains for nearly every pair there
    # (candidates above it at least `face_band_ratio` times the random pairs' tail), so
    # its strangers are look-alikes, not the random pairs' tail.
    band_index = max((i for i, d in enumerate(dense)
                      if d["candidates_above"] >= config.face_band_ratio * d["impostors_expected"]),
                     default=cut_index)
    alike = gammas[:, photo_k] >= n_photo - 1 - band_index
    split = [k for k in physique if config.split_physique_by_face]
    band_gammas = gammas.copy()
    for k in split:
        known = band_gammas[:, k] >= 0
        band_gammas[known & alike, k] += levels[k]
    band_levels = [2 * n if k in split else n for k, n in enumerate(levels)]
    band_m = {k: (np.r_[m, m] if k in split else m) for k, m in all_m.items()}
    band_u0 = [np.r_[u_start[k], u_start[k]] / 2 if k in split else u_start[k] for k in range(len(levels))]
    groups = {k: np.r_[np.zeros(levels[k], int), np.ones(levels[k], int)] for k in split}
    # absent evidence a stranger with an alike face is any stranger: each band's u starts
    # from, and with few look-alikes stays near, every candidate's level shares
    band_prior = {k: (np.r_[u_start[k], u_start[k]], config.face_band_prior_pairs) for k in split}
    unique, pattern_counts, inverse = em.patterns(band_gammas)
    result = em.fit(unique, pattern_counts, band_levels, [band_m[k] for k in range(len(levels))], band_u0,
                    max(first.expected_matches, 1.0) / len(gammas), m_prior=uniform, m_prior_weight=weights,
                    u_prior_weight=config.u_prior_pairs, fixed_m=band_m, train_u=True,
                    max_iterations=config.em_max_iterations, u_groups=groups, u_prior=band_prior)
    if split:
        split_by_face_band(model, thresholds[band_index], "duckdb")
        comparisons = {c["output_column_name"]: c for c in model["comparisons"]}
    for run in (body, first, result):
        if not run.converged:
            log.warning("EM stopped after %d iterations without converging", run.iterations)

    em_notes = {}
    for k, name in enumerate(names):
        comparison_levels = non_null_levels(comparisons[name])
        m, u = _from_gamma_order(result.m[k]), _from_gamma_order(result.u[k])
        if name == PHOTO:
            monotone = monotone_u(m, u)
            if monotone != u:
                em_notes["photo_monotone"] = {"u_before": u, "note": "adjacent levels pooled so the weight "
                                                                     "never falls as similarity rises"}
                u = monotone
        for level, mv, uv in zip(comparison_levels, m, u):
            level["m_probability"], level["u_probability"] = mv, uv
        prior = 1.0 / len(comparison_levels)
        em_notes[name] = {
            "m_prior": prior, "m_prior_pairs": config.m_prior_pairs,
            # the expected matches the estimate rests on, against the prior's pseudo-pairs
            "evidence_pairs": round(evidence[k], 2),
            "expected_matches_per_level": [round(float(x), 2) for x in result.match_counts[k][::-1]],
            "m": [round(x, 6) for x in m],
            # how far the data moved m from the prior, in total variation
            "m_moved_from_prior": round(0.5 * sum(abs(x - prior) for x in m), 4),
        }
    model["probability_two_random_records_match"] = result.lam
    posteriors = em.posterior(unique, result.lam, result.m, result.u)[inverse]
    threshold, notes["threshold"] = recommend_threshold(posteriors, config)
    notes["recommended_threshold"] = threshold
    notes["parameters"]["em"] = {
        "source": f"EM over the day's {len(gammas)} candidate pairs ({len(unique)} distinct comparison vectors), "
                  f"uniform Dirichlet priors of {config.m_prior_pairs:g} pair(s) on m and "
                  f"{config.u_prior_pairs:g} on u",
        "iterations": result.iterations, "converged": result.converged,
        "session_1": {"blocked_on": f"photo similarity >= {thresholds[cut_index]}", "pairs": int(block.sum()),
                      "expected_matches": round(first.expected_matches, 2), "iterations": first.iterations,
                      "expected_matches_from_physique_alone": round(body.expected_matches, 2),
                      "density_by_threshold": dense,
                      "taught": "m of every comparison but the photo"},
        "session_2": {"source": photo_source, "taught": "photo m",
                      "pairs_per_level": [round(float(x), 2) for x in photo_counts[::-1]]},
        "session_3": {"pairs": int(len(gammas)), "taught": "λ and every u (every m held)"},
        "expected_matches": round(result.expected_matches, 2),
        "comparisons": em_notes,
    }
    notes["parameters"]["lambda"] = {
        "source": "EM: expected matches among the candidate pairs / candidate pairs "
                  "(probabilities are conditional on a pair being a candidate)",
        "value": result.lam, "candidate_pairs": int(len(gammas)),
    }
    notes["parameters"]["m_sources"] = {name: "em" for name in names}
    notes["population"] = {"passengers": counts.get(PASSENGERS), "watchlist": counts.get(WATCHLIST),
                           "candidate_pairs": int(len(gammas))}
    notes["term_frequencies"] = ("surname level TF-adjusted" if config.surname_term_frequencies else "none")
    return model, notes
