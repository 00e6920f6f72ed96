"""What the model is compared with on the same candidate pairs.

face ranking   the candidates ranked by photo cosine alone: no model, no training. The
               linkage adds names, dates and physique to the face; if its curve falls
               below this one, that evidence is doing harm.
supervised     gradient boosting on the raw pair features (pairs.FEATURES), trained with
               true labels on another seed of the same world and applied to the test day:
               roughly what the features allow when the world is known, a ceiling an
               unsupervised model should approach.
"""
from __future__ import annotations

import numpy as np

from watchlist_screening.evaluation.pairs import LabelledPairs

# ~1 match in several thousand pairs: sklearn's default early stopping would validate on a
# handful of matches; a fixed number of regularised rounds is stable.
SUPERVISED_PARAMS = dict(max_iter=300, learning_rate=0.05, l2_regularization=1.0,
                         early_stopping=False)
TIE_BREAK = 1e-9


def face_scores(pairs: LabelledPairs) -> np.ndarray:
    return pairs.photo_cosine


def supervised(train: LabelledPairs, test: LabelledPairs,
               prevalence_ratio: float = 1.0) -> tuple[np.ndarray, dict]:
    """Match probabilities of the test pairs from a classifier fitted on the training day's
    labelled candidates. A training day with k times the test day's sightings gives more
    matches to learn from; `prevalence_ratio` 1/k scales the odds back to the test day's
    prevalence (a prior shift: the ranking is unchanged, a threshold means the same).
    Weighing the matches down instead was measured to cost the trees most of what the extra
    matches taught (default world: precision at recall 0.99 0.74 against 0.92)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    notes = {"classifier": f"sklearn HistGradientBoostingClassifier({SUPERVISED_PARAMS})",
             "features": train.feature_names, "training_pairs": len(train),
             "training_matches": int(train.is_match.sum()), "prevalence_ratio": prevalence_ratio}
    if train.is_match.all() or not train.is_match.any():
        notes["error"] = "the training day's candidates hold a single class"
        return np.full(len(test), np.nan), notes
    from threadpoolctl import threadpool_limits

    clf = HistGradientBoostingClassifier(random_state=0, **SUPERVISED_PARAMS)
    # One thread: on a shared 2-core machine OpenMP's spinning threads made the fit 10x
    # slower than one thread, and varied with the neighbours' load.
    with threadpool_limits(1, user_api="openmp"):
        clf.fit(train.features, train.is_match)
        probability = clf.predict_proba(test.features)[:, 1]
    odds = probability / np.maximum(1.0 - probability, 1e-300) * prevalence_ratio
    probability = odds / (1.0 + odds)
    # Trees give whole leaves one probability; the photo cosine orders pairs within such a
    # tie, or precision at a threshold would depend on how many strangers share a leaf.
    return probability + TIE_BREAK * np.nan_to_num(test.photo_cosine), notes
