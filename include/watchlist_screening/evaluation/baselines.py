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


def face_scores(pairs: LabelledPairs) -> np.ndarray:
    return pairs.photo_cosine


def supervised(train: LabelledPairs, test: LabelledPairs) -> tuple[np.ndarray, dict]:
    """Match probabilities of the test pairs from a classifier fitted on the training day's
    labelled candidates."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    notes = {"classifier": f"sklearn HistGradientBoostingClassifier({SUPERVISED_PARAMS})",
             "features": train.feature_names, "training_pairs": len(train),
             "training_matches": int(train.is_match.sum())}
    if train.is_match.all() or not train.is_match.any():
        notes["error"] = "the training day's candidates hold a single class"
        return np.full(len(test), np.nan), notes
    clf = HistGradientBoostingClassifier(random_state=0, **SUPERVISED_PARAMS)
    clf.fit(train.features, train.is_match)
    return clf.predict_proba(test.features)[:, 1], notes
