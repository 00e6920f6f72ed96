"""Face identities and the photo embeddings a scanner's face model produces from them.

Each person has a latent identity: a unit vector z, uniform on the 128-d sphere, so two
unrelated people have cosine ~ Normal(0, 1/sqrt(128) = 0.088). A photo is
    (z + sigma * e) * norm,   e ~ Normal(0, I/128) (|e| ~ 1), a fresh e per photo,
with sigma ~ Uniform(0.30, 0.70) per photo (world.World.photo_sigma) (pose, light, age of the picture) and norm drawn
log-normally around 9, because the contract promises embeddings that are not unit length.
Two photos of one person then have cosine ~0.80 on average (99% within 0.64-0.92), and no
two photos are ever identical. Values are rounded to 5 decimals (5-6 significant digits at
these norms): 1 kB a line instead of 2.5 kB, far below the model's own noise.
"""
from __future__ import annotations

import numpy as np

from .world import DEFAULT_WORLD, FaceStructure

DIM = 128
NORM_MEDIAN = 9.0
NORM_LOG_SD = 0.25
DECIMALS = 5


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def identities(rng: np.random.Generator, n: int, structure: FaceStructure | None = None,
               culture: np.ndarray | None = None) -> np.ndarray:
    """n identity vectors (n, DIM), unit length: independent, or in a structured population
    sqrt(share) * (their group's direction) + sqrt(1 - share) * (their own), the group
    following the naming culture, so two strangers of a group have cosine ~share."""
    own = _unit(rng.standard_normal((n, DIM)))
    if structure is None:
        return own
    group = np.asarray(culture) % len(structure.directions)
    return _unit(np.sqrt(structure.share) * structure.directions[group]
                 + np.sqrt(1.0 - structure.share) * own)


def photo_sigmas(rng: np.random.Generator, n: int,
                 sigma_range: tuple[float, float] = DEFAULT_WORLD.photo_sigma) -> np.ndarray:
    return rng.uniform(*sigma_range, n)


def photos(rng: np.random.Generator, z: np.ndarray, sigma: np.ndarray | None = None,
           sigma_range: tuple[float, float] = DEFAULT_WORLD.photo_sigma,
           noise_scale: np.ndarray | float = 1.0) -> np.ndarray:
    """One new photo embedding per identity row of z, rounded as written; `noise_scale`
    is the scanner's (a worse scanner multiplies the photo's noise)."""
    n = len(z)
    if sigma is None:
        sigma = photo_sigmas(rng, n, sigma_range)
    sigma = sigma * noise_scale
    noise = rng.standard_normal((n, DIM)) * (sigma / np.sqrt(DIM))[:, None]
    norm = np.exp(rng.normal(np.log(NORM_MEDIAN), NORM_LOG_SD, n))
    return np.round(_unit(z + noise) * norm[:, None], DECIMALS)


def look_alike_identities(rng: np.random.Generator, z: np.ndarray, reference_photo: np.ndarray,
                          target_cosine: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Identities of other people whose photos (drawn with `sigma`) will have about
    `target_cosine` with `reference_photo`, a photo of identity z.

    The new identity is rho*z + sqrt(1-rho^2)*u with u orthogonal to z. Its photo's cosine with
    the reference is about rho * cos(reference, z) * cos(own photo, own z), and both photo
    terms are known (the second is 1/sqrt(1+sigma^2) on average), so rho follows.
    """
    reference_fit = np.sum(_unit(reference_photo) * z, axis=1)
    own_fit = 1.0 / np.sqrt(1.0 + sigma**2)
    rho = np.clip(target_cosine / (reference_fit * own_fit), 0.0, 0.98)
    u = rng.standard_normal(z.shape)
    u = _unit(u - np.sum(u * z, axis=1, keepdims=True) * z)
    return _unit(rho[:, None] * z + np.sqrt(1.0 - rho**2)[:, None] * u)
