"""How a person's own name comes out distorted on a document or at data entry: character
slips, given names and surname swapped, accents dropped."""
from __future__ import annotations

import numpy as np

from .names import fold

_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    neighbours = {}
    for r, row in enumerate(_QWERTY_ROWS):
        for c, ch in enumerate(row):
            near = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
            for other in (r - 1, r + 1):
                if 0 <= other < len(_QWERTY_ROWS):
                    near += [_QWERTY_ROWS[other][i] for i in (c - 1, c, c + 1)
                             if 0 <= i < len(_QWERTY_ROWS[other])]
            neighbours[ch] = "".join(near)
    return neighbours


_NEIGHBOURS = _keyboard_neighbours()


def _slip(rng: np.random.Generator, text: str) -> str:
    """One keying slip, not on the first letter (people rarely get that one wrong) unless
    the name has only two."""
    if len(text) < 2:
        return text
    i = int(rng.integers(1, len(text)))
    ch = text[i]
    op = rng.integers(0, 4)
    if op == 0:  # hit a neighbouring key
        pool = _NEIGHBOURS.get(ch.lower(), "aeinorst")
        return text[:i] + pool[rng.integers(0, len(pool))] + text[i + 1:]
    if op == 1:  # dropped letter
        return text[:i] + text[i + 1:]
    if op == 2:  # doubled letter
        return text[:i] + ch + text[i:]
    j = i - 1 if i == len(text) - 1 else i  # swapped neighbours
    return text[:j] + text[j + 1] + text[j] + text[j + 2:]


def misspell(rng: np.random.Generator, given: str, surname: str) -> tuple[str, str]:
    """The name with one distortion, sometimes two different ones."""
    original = (given, surname)
    for op in rng.permutation(3)[: 2 if rng.random() < 0.3 else 1].tolist():
        if op == 0:
            if len(given) < 2 or (len(surname) >= 2 and rng.random() < 0.5):
                surname = _slip(rng, surname)
            else:
                given = _slip(rng, given)
        elif op == 1:
            given, surname = surname, given
        else:
            given, surname = fold(given), fold(surname)
    if (given, surname) == original:  # e.g. no accents to drop: swap instead
        given, surname = surname, given
    return given, surname
