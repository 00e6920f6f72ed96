"""Photo comparison levels chosen from the day's own similarity distributions.

Fixed cut-offs (0.5 … 0.85) bracket one face model's genuine and look-alike cosines and
lump everything below into one level, so a cosine of 0.49 and one of 0.09 weighed the same.
Another face model, scanner or population moves both distributions. So the boundaries are
read off the data:

- the low end from the impostor distribution (cosines of random passenger × watchlist
  pairs, which are non-matches with overwhelming probability): its upper quantiles at tail
  probabilities 1/2, 1/10, … , `impostor_tail`, so that "clearly unlike" (below the
  impostor median) and "as alike as one stranger in ten thousand" are separate levels;
- the high end from the candidate pairs above that tail, where the day's true matches and
  its look-alikes live: their upper quantiles (top 10%, 1%, … of them), so the few most
  similar pairs get levels of their own and EM can tell a 0.5 face from a 0.8 face.

Boundaries closer than `min_gap` are merged: a level must hold enough pairs to estimate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhotoLevelConfig:
    impostor_tail: tuple[float, ...] = (0.5, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
    min_points_beyond: int = 20       # a tail quantile needs this many sample points above it
    # ... and ten times the matches the sample could hold, if this share of passengers
    # were wanted (far above any real day's)
    max_wanted_share: float = 0.01
    # Above the impostor tail, boundaries at these shares of the candidates there: most of
    # them are the nearest strangers, the day's matches and look-alikes are the top few.
    upper_tail: tuple[float, ...] = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005)
    min_upper_points: int = 5
    min_gap: float = 0.02
    # Between the tail and the most alike candidate, no level wider than this: the nearest
    # strangers crowd the quantiles near the tail, matches and look-alikes are sparse above
    # and would otherwise share one wide level (0.45-0.71 in one day: a 0.7 face weighed
    # as a 0.45 one).
    max_upper_width: float = 0.05
    decimals: int = 3


def random_pair_similarities(p_vecs: np.ndarray, w_vecs: np.ndarray, max_pairs: int, seed: int) -> np.ndarray:
    """Cosines of a large sample of passenger × watchlist pairs (unit vectors): every pair
    of a random subset of passengers, by one matrix product."""
    if len(p_vecs) == 0 or len(w_vecs) == 0:
        return np.empty(0, np.float32)
    rows = min(len(p_vecs), max(1, max_pairs // len(w_vecs)))
    rng = np.random.default_rng(seed)
    sample = p_vecs[rng.choice(len(p_vecs), rows, replace=False)] if rows < len(p_vecs) else p_vecs
    sims = sample @ w_vecs.T
    return sims.ravel()


def choose_thresholds(impostor: np.ndarray, candidate: np.ndarray,
                      config: PhotoLevelConfig = PhotoLevelConfig(), sampled_passengers: int = 0) -> tuple[tuple[float, ...], dict]:
    """Descending photo level boundaries and notes on where each came from.

    The random pairs of `sampled_passengers` passengers hold those passengers' matches
    too: a tail quantile is read only where the sample holds more pairs beyond it than
    `max_wanted_share` of those passengers could contribute (a 5,000 × 4,000 sample with 40
    matches read 0.79 as its one-in-a-million stranger)."""
    min_beyond = max(config.min_points_beyond, config.max_wanted_share * sampled_passengers * 10)
    chosen: list[tuple[float, str]] = []
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))
    n = len(impostor)
    tail_top = -1.0
    for p in config.impostor_tail:
        if n * p < min_beyond:
            break
        value = float(impostor[int(np.floor((1 - p) * (n - 1)))])
        chosen.append((value, f"impostor quantile 1-{p:g}"))
        tail_top = max(tail_top, value)
    upper = np.sort(np.asarray(candidate, dtype=np.float64))
    upper = upper[upper > tail_top]
    for p in config.upper_tail:
        if len(upper) * p < config.min_upper_points:
            break
        chosen.append((float(np.quantile(upper, 1 - p)), f"top {p:g} of the candidates above the impostor tail"))
    if len(upper):
        edges = sorted({round(tail_top, config.decimals), *[round(v, config.decimals) for v, _ in chosen
                                                             if v > tail_top], round(float(upper[-1]), config.decimals)})
        for lo, hi in zip(edges, edges[1:]):
            pieces = int(np.ceil((hi - lo) / config.max_upper_width - 1e-9))
            for i in range(1, pieces):
                chosen.append((lo + i * (hi - lo) / pieces, f"split of a sparse span {lo:.3f}-{hi:.3f}"))
    kept: list[tuple[float, str]] = []
    for value, source in sorted(chosen, key=lambda c: -c[0]):
        value = round(value, config.decimals)
        if value >= 1.0:
            continue
        if kept and kept[-1][0] - value < config.min_gap:
            continue
        kept.append((value, source))
    if not kept:
        kept = [(0.0, "no data: a single split at 0")]
    notes = {
        "source": "photo similarity distributions of this day",
        "impostor_sample_pairs": int(n),
        "candidates_above_impostor_tail": int(len(upper)),
        "impostor_tail_top": round(tail_top, config.decimals),
        "levels": [{"threshold": v, "from": s} for v, s in kept],
    }
    return tuple(v for v, _ in kept), notes


def impostor_survival(impostor: np.ndarray, min_points: int = 100):
    """S(t) = P(cosine >= t) for random pairs: empirical where the sample holds at least
    `min_points` pairs above t, an exponential tail fitted on the last decade beyond (the
    sample cannot see the 10^-9 tail a 10^9-pair day reaches). Exponential is heavier than
    the Gaussian tail of random vectors: it overstates impostors, never hides them."""
    ordered = np.sort(np.asarray(impostor, dtype=np.float64))
    n = len(ordered)
    if n < 10 * min_points:
        return lambda t: float(np.count_nonzero(ordered >= t)) / max(n, 1)
    t_top = ordered[n - min_points]
    t_mid = ordered[n - 10 * min_points]
    rate = np.log(10.0) / max(t_top - t_mid, 1e-9)

    def survival(t: float) -> float:
        if t <= t_top:
            return float(n - np.searchsorted(ordered, t, side="left")) / n
        return min_points / n * float(np.exp(-rate * (t - t_top)))

    return survival
