"""The clear values as they are hashed: both parties must turn a record into exactly the
same strings, or equal names stop giving near-equal CLKs.

Names follow the clear pipeline's normalisation (normalise/rules.py: any script folded
to ASCII, lower case, words split on anything else); the full name's words are sorted,
as the clear comparisons token-sort, so "Smith John" and "John Smith" agree.
"""
from __future__ import annotations

from watchlist_screening.normalise.rules import normalise_full_name, normalise_name


def full_name(given_names: str | None, surname: str | None) -> str | None:
    name = normalise_full_name(given_names, surname)
    return " ".join(sorted(name.split())) if name else None


def surname(value: str | None) -> str | None:
    return normalise_name(value)


def place(value: str | None) -> str | None:
    return normalise_name(value)


def date_of_birth(value: str | None) -> str | None:
    """YYYYMMDD (the contract's dates are validated YYYY-MM-DD before this)."""
    return value.replace("-", "") if value else None


def nationality(value: str | None) -> str | None:
    return value or None
