"""Dirty lines as real feeds deliver them. Each bad line starts from a valid scan record and
is broken in one way, named by its kind; the kinds are listed in the order they cycle."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .writer import encode

KINDS = (
    "truncated_json", "not_json", "missing_field", "malformed_date", "impossible_height",
    "wrong_length_embedding", "non_numeric_embedding", "unknown_eye_colour", "wrong_type",
    "duplicate_scan_id",
)
REQUIRED_FIELDS = ("scan_id", "airport", "scanned_at", "given_names", "surname",
                   "date_of_birth", "sex", "height_cm", "eye_colour", "face_embedding")
_NOT_JSON = (
    "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "ERROR scanner E42: document read timeout at gate {airport}",
    "{scan_id};{surname};{given_names};{date_of_birth};{sex}",
    "scan_id=\"{scan_id}\" surname=\"{surname}\" status=PARTIAL",
    "P<{airport}{surname}<<{given_names}<<<<<<<<<<<<<<<<",
)
_IMPOSSIBLE_HEIGHTS = (900, -5, 0, 1750, 999.9)
_EMBEDDING_LENGTHS = (127, 129, 64, 0)
_NON_NUMBERS = ("0.4521", None, "NaN", "")
_UNKNOWN_EYES = ("violet", "purple", "unknown", "red", "blu")
_WRONG_TYPE_HEIGHTS = ("tall", "n/a", "1,80 m")


@dataclass(frozen=True)
class BadLine:
    line: int  # 1-based line number in its file
    kind: str
    duplicate_of: str | None = None  # scan_id repeated by a duplicate_scan_id line


def _malformed_date(rng: np.random.Generator, iso: str) -> str:
    year, month, day = iso.split("-")
    return (f"{year}-{rng.integers(13, 20)}-{rng.integers(32, 46)}",  # no such month or day
            f"{day}/{month}/{year}",  # a local format instead of ISO
            f"{year}-02-30")[rng.integers(0, 3)]


def render(bad: BadLine, record: dict, rng: np.random.Generator) -> bytes:
    """The line (without newline) for `bad`, made from the valid `record` (modified)."""
    kind = bad.kind
    if kind == "truncated_json":
        # Cut characters, not bytes: the contract promises UTF-8, a broken feed or not.
        text = encode(record).decode()
        return text[: rng.integers(len(text) // 4, len(text) - 1)].encode()
    if kind == "not_json":
        return _NOT_JSON[rng.integers(0, len(_NOT_JSON))].format(**record).encode()
    if kind == "missing_field":
        del record[REQUIRED_FIELDS[rng.integers(0, len(REQUIRED_FIELDS))]]
    elif kind == "malformed_date":
        record["date_of_birth"] = _malformed_date(rng, record["date_of_birth"])
    elif kind == "impossible_height":
        record["height_cm"] = _IMPOSSIBLE_HEIGHTS[rng.integers(0, len(_IMPOSSIBLE_HEIGHTS))]
    elif kind == "wrong_length_embedding":
        embedding = record["face_embedding"]
        length = _EMBEDDING_LENGTHS[rng.integers(0, len(_EMBEDDING_LENGTHS))]
        record["face_embedding"] = (embedding * 2)[:length]
    elif kind == "non_numeric_embedding":
        record["face_embedding"][rng.integers(0, len(record["face_embedding"]))] = \
            _NON_NUMBERS[rng.integers(0, len(_NON_NUMBERS))]
    elif kind == "unknown_eye_colour":
        record["eye_colour"] = _UNKNOWN_EYES[rng.integers(0, len(_UNKNOWN_EYES))]
    elif kind == "wrong_type":
        record["height_cm"] = _WRONG_TYPE_HEIGHTS[rng.integers(0, len(_WRONG_TYPE_HEIGHTS))]
    elif kind == "duplicate_scan_id":
        # Otherwise a valid record: only the repeat makes it bad, the first one stays good.
        record["scan_id"] = bad.duplicate_of
    else:
        raise ValueError(f"unknown bad-line kind {kind!r}")
    return encode(record)
