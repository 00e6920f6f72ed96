"""Independent, reproducible random streams, one per part of the generated data.

Every part (a watchlist chunk, one airport's file on one day, that day's sightings...) draws
from its own stream keyed by the seed plus labels. Parts therefore never shift each other:
adding a date, an airport or bad lines leaves every other part byte-identical, and a
watchlist chunk can be regenerated on its own to look up the people in it.
"""
from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, *labels: int | str) -> np.random.Generator:
    """A generator for the part named by `labels` (ints, or strings hashed with CRC-32:
    Python's hash() is salted per process, which would break reproducibility)."""
    words = [seed] + [
        label if isinstance(label, int) else zlib.crc32(label.encode()) for label in labels
    ]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))
