"""Precision-recall over a day's candidate pairs, with recall counted in sightings.

A ranking (any score per candidate pair: the model's match weight, the photo cosine, a
classifier's probability) alerts on every pair scoring at or above a threshold. At each
threshold:
  sighting recall  share of the day's sightings with at least one true pair alerted
                   (sightings whose true pairs are not among the candidates count as missed)
  precision        true alerted pairs / alerted pairs
Thresholds are the distinct scores, so pairs with equal scores are always alerted together.
Pure numpy: the unit tests run it on small arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Recall levels over which the model's curve must lie on or above the face ranking's: below
# half the sightings no threshold is worth running.
DOMINANCE_RECALL_LEVELS = tuple(np.round(np.linspace(0.5, 1.0, 51), 2).tolist())


@dataclass(frozen=True)
class Curve:
    thresholds: np.ndarray  # distinct scores, descending
    recall: np.ndarray  # sighting recall alerting at score >= threshold (non-decreasing)
    precision: np.ndarray
    alerts: np.ndarray


def pr_curve(scores, is_match, sighting, n_sightings: int) -> Curve:
    """The curve of a ranking of candidate pairs. `sighting` holds, for each true pair, the
    index of its sighting (several listings of one person make several true pairs of one
    sighting); it is ignored for other pairs. NaN scores rank last."""
    scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    is_match = np.asarray(is_match, dtype=bool)
    sighting = np.asarray(sighting)
    if len(scores) == 0:
        empty = np.zeros(0)
        return Curve(empty, empty, empty, empty.astype(int))
    order = np.argsort(-scores, kind="stable")
    s, m, g = scores[order], is_match[order], sighting[order]
    true_at = np.flatnonzero(m)
    _, first_of_sighting = np.unique(g[true_at], return_index=True)
    first = np.zeros(len(s), dtype=bool)
    first[true_at[first_of_sighting]] = True
    found, tp = np.cumsum(first), np.cumsum(m)
    alerts = np.arange(1, len(s) + 1)
    last_of_tie = np.append(s[1:] != s[:-1], True)
    return Curve(thresholds=s[last_of_tie],
                 recall=found[last_of_tie] / max(n_sightings, 1),
                 precision=tp[last_of_tie] / alerts[last_of_tie],
                 alerts=alerts[last_of_tie])


def at_threshold(scores, is_match, sighting, n_sightings: int, threshold: float) -> dict:
    """Sighting recall and precision alerting on score >= threshold."""
    scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    is_match, sighting = np.asarray(is_match, dtype=bool), np.asarray(sighting)
    alerted = scores >= threshold
    hits = alerted & is_match
    found = len(np.unique(sighting[hits]))
    n = int(alerted.sum())
    return {"sighting_recall": found / n_sightings if n_sightings else 1.0,
            "precision": int(hits.sum()) / n if n else 1.0,
            "alerts": n, "false_alerts": n - int(hits.sum()), "sightings_found": found}


def precision_at_recall(curve: Curve, recall: float) -> float | None:
    """Best precision of any threshold reaching `recall`; None when none does."""
    reach = curve.recall >= recall - 1e-12
    return float(curve.precision[reach].max()) if reach.any() else None


def recall_at_precision(curve: Curve, precision: float) -> float:
    """Best sighting recall of any threshold at `precision` or better; 0 when none is."""
    ok = curve.precision >= precision - 1e-12
    return float(curve.recall[ok].max()) if ok.any() else 0.0


def shortfall(curve: Curve, reference: Curve,
              levels: tuple[float, ...] = DOMINANCE_RECALL_LEVELS) -> dict:
    """How far `curve` falls below `reference`: the largest (reference precision - curve
    precision) at equal recall, over the recall levels the reference reaches (a level the
    curve cannot reach counts its precision as 0). 0 = on or above everywhere."""
    worst, at = 0.0, None
    for level in levels:
        ref = precision_at_recall(reference, level)
        if ref is None:
            continue
        own = precision_at_recall(curve, level) or 0.0
        if ref - own > worst + 1e-12:
            worst, at = ref - own, level
    return {"max_shortfall": round(worst, 4), "at_recall": at, "on_or_above": worst <= 1e-9}


def summary(curve: Curve, target_recall: float = 0.99, target_precision: float = 0.95) -> dict:
    """The figures the grid reports for a ranking."""
    p = precision_at_recall(curve, target_recall)
    return {f"precision_at_recall_{target_recall}": None if p is None else round(p, 4),
            f"recall_at_precision_{target_precision}": round(recall_at_precision(curve, target_precision), 4),
            "max_recall": round(float(curve.recall.max()), 4) if len(curve.recall) else 0.0}


CALIBRATION_BANDS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


def calibration(probabilities, is_match, bands: tuple[float, ...] = CALIBRATION_BANDS) -> list[dict]:
    """Predicted against observed per probability band: how many pairs fell in it, their
    mean predicted probability, and the share that are true matches. Calibrated
    probabilities put the two side by side; NaN (an unscored pair) is left out."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(is_match, dtype=bool)
    keep = ~np.isnan(p)
    p, y = p[keep], y[keep]
    rows = []
    for i, (lo, hi) in enumerate(zip(bands, bands[1:])):
        inside = (p >= lo) & ((p < hi) if i < len(bands) - 2 else (p <= hi))
        count = int(inside.sum())
        rows.append({"band": [lo, hi], "pairs": count,
                     "mean_predicted": round(float(p[inside].mean()), 4) if count else None,
                     "observed": round(float(y[inside].mean()), 4) if count else None,
                     "matches": int(y[inside].sum())})
    return rows
