"""Expectation–maximisation of a Fellegi–Sunter model over comparison vectors, with
Dirichlet pseudo-counts.

Why not Splink's `estimate_parameters_using_expectation_maximisation`: it trains on pairs
it finds itself with a blocking rule, and the pairs where wanted people are dense here are
the photo-neighbour candidates, which no blocking rule can express (Splink refuses the
exploding rules that would, and a cosine condition is a join over every pair). It also has
no priors: a level no match reached in a day would get m = 0 and a weight of −∞. Splink
still builds every comparison vector (`gamma_*`, from its own `predict`), so the levels
are Splink's; only the counting is done here, over distinct patterns, as Splink does.

Pseudo-counts (`prior_weight`) only regularise: a parameter with hundreds of supporting
pairs is moved by the data, one with none stays at its prior. The trainer reports both.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EMResult:
    lam: float
    m: list[np.ndarray]            # per comparison, P(gamma = g | match), index = gamma value
    u: list[np.ndarray]            # per comparison, P(gamma = g | non-match)
    iterations: int
    converged: bool
    expected_matches: float
    log_likelihood: list[float] = field(default_factory=list)
    match_counts: list[np.ndarray] = field(default_factory=list)   # expected match count per level


def patterns(gammas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of the (pairs × comparisons) gamma matrix, their counts, and each
    pair's pattern index: EM needs each pattern once, not each of a million pairs."""
    unique, inverse, counts = np.unique(gammas, axis=0, return_inverse=True, return_counts=True)
    return unique, counts.astype(float), inverse.ravel()


def _level_probs(unique: np.ndarray, params: list[np.ndarray]) -> np.ndarray:
    """Product over comparisons of P(gamma) per pattern; a null level (-1) contributes 1."""
    out = np.ones(len(unique))
    for k, p in enumerate(params):
        g = unique[:, k]
        known = g >= 0
        out[known] *= p[g[known]]
    return out


def posterior(unique: np.ndarray, lam: float, m: list[np.ndarray], u: list[np.ndarray]) -> np.ndarray:
    pm = lam * _level_probs(unique, m)
    pu = (1.0 - lam) * _level_probs(unique, u)
    return pm / np.maximum(pm + pu, 1e-300)


def _weighted_counts(unique: np.ndarray, weights: np.ndarray, k: int, levels: int) -> np.ndarray:
    g = unique[:, k]
    known = g >= 0
    return np.bincount(g[known], weights=weights[known], minlength=levels)[:levels]


def fit(unique: np.ndarray, counts: np.ndarray, levels: list[int], m0: list[np.ndarray], u0: list[np.ndarray],
        lam0: float, m_prior: list[np.ndarray], m_prior_weight: list[float], u_prior_weight: float = 1.0,
        fixed_m: dict[int, np.ndarray] | None = None, train_u: bool = False, max_iterations: int = 200,
        tolerance: float = 1e-7, u_groups: dict[int, np.ndarray] | None = None,
        u_prior: dict[int, tuple[np.ndarray, float]] | None = None) -> EMResult:
    """MAP-EM: m_k ~ Dirichlet(m_prior_weight[k] · m_prior[k]), u_k ~ Dirichlet(uniform ·
    u_prior_weight), λ from the expected match count alone. `fixed_m` holds comparisons
    whose m is known from elsewhere (an earlier session, reviewer labels) and is not
    re-estimated. u is held at `u0` unless `train_u`, as Splink's EM holds it: left free,
    EM may split the matches by how they travel (own identity or a new one), since
    identity fields agree or disagree together, instead of matches from non-matches.
    `u_groups` gives, for a comparison, each level's group: its u is normalised within each
    group, a distribution per group (P(level | group, non-match): comparisons.split_by_face_band).
    `u_prior` gives, for a comparison, the mean and weight (pairs) of its u's Dirichlet
    prior instead of the uniform one."""
    u_groups = u_groups or {}
    u_prior = u_prior or {}
    fixed_m = fixed_m or {}
    m = [np.asarray(x, float).copy() for x in m0]
    u = [np.asarray(x, float).copy() for x in u0]
    lam = float(lam0)
    history: list[float] = []
    converged = False
    total = counts.sum()
    for iteration in range(1, max_iterations + 1):
        pm = lam * _level_probs(unique, m)
        pu = (1.0 - lam) * _level_probs(unique, u)
        evidence = np.maximum(pm + pu, 1e-300)
        history.append(float((counts * np.log(evidence)).sum()))
        r = pm / evidence
        wm, wu = counts * r, counts * (1.0 - r)
        expected = wm.sum()
        lam_new = min(max(expected / total, 1.0 / (total + 1.0)), 0.5)
        delta = abs(lam_new - lam) / max(lam, 1e-12)
        lam = lam_new
        match_counts = []
        for k, n_levels in enumerate(levels):
            cm = _weighted_counts(unique, wm, k, n_levels)
            match_counts.append(cm)
            if k not in fixed_m:
                new_m = cm + m_prior_weight[k] * np.asarray(m_prior[k], float)
                new_m /= new_m.sum()
                delta = max(delta, float(np.abs(new_m - m[k]).max()))
                m[k] = new_m
            if train_u:
                mean, weight = u_prior.get(k, (np.full(n_levels, 1.0 / n_levels), u_prior_weight))
                cu = _weighted_counts(unique, wu, k, n_levels) + weight * np.asarray(mean, float)
                if k in u_groups:
                    groups = np.asarray(u_groups[k])
                    u[k] = cu / np.bincount(groups, weights=cu)[groups]
                else:
                    u[k] = cu / cu.sum()
        if delta < tolerance:
            converged = True
            break
    for k, value in fixed_m.items():
        m[k] = np.asarray(value, float)
    return EMResult(lam=lam, m=m, u=u, iterations=iteration, converged=converged,
                    expected_matches=float(expected), log_likelihood=history, match_counts=match_counts)


def unmix(counts: np.ndarray, known: np.ndarray, stranger_levels: int, z: float = 3.0) -> tuple[np.ndarray, float]:
    """Counts per level (gamma order, 0 = least similar) that mix matches with strangers
    whose level shares are `known`: the matches' counts and their share.

    A free match distribution can absorb any histogram (EM would call every count a
    match), so the strangers are counted where matches cannot be: the lowest
    `stranger_levels` levels (below the random pairs' median: a face model whose own
    pairs fall there is no face model). Their number there, over their share there, is
    how many strangers there are; their expected count is taken off every level, and
    what is left counts only where it is more than chance would leave."""
    total = counts.sum()
    if total == 0:
        return counts, 0.0
    known = np.asarray(known, float)
    low_share = known[:stranger_levels].sum()
    strangers = counts[:stranger_levels].sum() / low_share if low_share > 0 else 0.0
    expected = strangers * known
    matches = counts - expected
    # a count within `z` Poisson deviations of the strangers' expectation is strangers
    matches[matches <= z * np.sqrt(expected)] = 0.0
    matches[:stranger_levels] = 0.0
    return matches, float(matches.sum() / total)
