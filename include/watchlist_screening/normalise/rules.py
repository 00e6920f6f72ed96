"""Normalisation rules in plain Python: the reference the job is tested against (its
Arrow twins in arrow_names.py, its date-time parsing in parse.py), and what
linkage code uses to normalise a name or an embedding the same way."""
from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Sequence

import numpy as np
from anyascii import anyascii

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# [0-9], not \d: Python's \d also matches non-ASCII digits, Java's does not.
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
DATE_PATTERN = _FULL_DATE.pattern
DATE_TIME_PATTERN = _DATE_TIME.pattern


def needs_folding(text: str) -> bool:
    return not text.isascii()


def fold_to_ascii(text: str) -> str:
    """Accents dropped and other scripts transliterated (Иван → Ivan, 张 → Zhang), so
    names written in different scripts stay comparable."""
    return anyascii(text)


def normalise_name(text: str | None) -> str | None:
    """Lower case ASCII words separated by single spaces; None when nothing is left."""
    if text is None:
        return None
    if needs_folding(text):
        text = fold_to_ascii(text)
    words = _NOT_ALNUM.sub(" ", text.lower()).strip()
    return words or None


def normalise_full_name(given_names: str | None, surname: str | None) -> str | None:
    parts = [part for part in (normalise_name(given_names), normalise_name(surname)) if part]
    return " ".join(parts) or None


def parse_full_date(text: str) -> date | None:
    """RFC 3339 full-date (YYYY-MM-DD, a real calendar day), else None."""
    if not _FULL_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_date_time(text: str) -> datetime | None:
    """RFC 3339 date-time with a UTC offset, else None."""
    if not _DATE_TIME.fullmatch(text):
        return None
    return date_time_of_pattern(text)


def date_time_of_pattern(text: str) -> datetime | None:
    """parse_date_time for a text already known to match DATE_TIME_PATTERN."""
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def embedding_lengths(matrix: np.ndarray) -> np.ndarray:
    """L2 length of each row (float64); inf when the squares overflow."""
    with np.errstate(over="ignore"):
        return np.sqrt(np.square(matrix).sum(axis=1))


def unit_vectors(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length, as float32 (the warehouse stores real[]). The job
    scales a whole Arrow batch with this, the reference one vector: same arithmetic."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return (matrix / embedding_lengths(matrix)[:, None]).astype(np.float32)


def embedding_length(values: Sequence[float]) -> float:
    return float(embedding_lengths(np.asarray([values], dtype=np.float64))[0])


def unit_vector(values: Sequence[float]) -> list[float] | None:
    """One embedding at unit length; None when it has none to scale (zero or overflow)."""
    if not 0.0 < embedding_length(values) < math.inf:
        return None
    return unit_vectors(np.asarray([values], dtype=np.float64))[0].tolist()
