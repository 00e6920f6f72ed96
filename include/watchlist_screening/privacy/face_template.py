"""The protected face template: the embedding scaled to unit length, then multiplied by
a secret random orthogonal matrix derived from the secret.

An orthogonal map keeps every inner product, so cosine between two templates equals
cosine between the raw embeddings and the pipeline's photo kNN and photo levels work
unchanged. What it protects and what not (docs/privacy.md): without the key the
coordinates mean nothing to another face system and templates made under another key
cannot be compared with these; but it is a linear map, so anyone holding about 128
(raw embedding, template) pairs solves for it (orthogonal Procrustes) and inverts every
template, and the geometry (who looks like whom) is public by design.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from watchlist_screening.privacy import keys

DIMENSION = 128


class FaceTemplateError(ValueError):
    """An embedding that cannot become a template (wrong length, not finite, zero)."""


@lru_cache(maxsize=4)
def rotation(secret: bytes, dimension: int = DIMENSION) -> np.ndarray:
    """The secret orthogonal matrix: QR of a Gaussian matrix seeded from the secret, signs
    fixed so Q is Haar-distributed (Mezzadri 2007), not biased towards the identity."""
    seed = int.from_bytes(keys.derive(secret, "face rotation"), "big")
    gaussian = np.random.Generator(np.random.PCG64(seed)).standard_normal((dimension, dimension))
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))
    q.setflags(write=False)
    return q


def template(embedding: Sequence[float], secret: bytes, decimals: int = 8) -> list[float]:
    vector = np.asarray(embedding, dtype=np.float64)
    if vector.shape != (DIMENSION,):
        raise FaceTemplateError(f"face_embedding must have {DIMENSION} numbers, got {vector.size}")
    if not np.isfinite(vector).all():
        raise FaceTemplateError("face_embedding holds a number that is not finite")
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise FaceTemplateError("face_embedding is all zeros: it has no direction to keep")
    rotated = rotation(secret) @ (vector / norm)
    return np.round(rotated, decimals).tolist()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
