"""Normalisation rules in plain Python, and their Arrow twins used by the job."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from watchlist_screening.normalise.arrow_names import join_names, normalise_names
from watchlist_screening.normalise.rules import (
    embedding_length, normalise_full_name, normalise_name, parse_date_time, parse_full_date, unit_vector,
    unit_vectors,
)

NAMES = ["José María", "MÜLLER", "Ørsted", "Łukasz", "Straße", "O'Brien-Smith", "  Anna   Lee ", "Иван Петров",
         "Ελένη", "张小明", "Ｔｏｋｙｏ", "e\u0301", "Jean\tPierre", "", "   ", "---", "Nguyễn Văn A", "x\u0000y", None]


@pytest.mark.parametrize("raw, expected", [
    ("José María", "jose maria"),
    ("MÜLLER", "muller"),
    ("Ørsted", "orsted"),
    ("Straße", "strasse"),
    ("O'Brien-Smith", "o brien smith"),
    ("  Anna \t  Lee ", "anna lee"),
    ("Иван Петров", "ivan petrov"),
    ("Ελένη", "eleni"),
    ("张小明", "zhangxiaoming"),
    ("e\u0301", "e"),            # combining accent
    ("Ｔｏｋｙｏ", "tokyo"),       # full-width letters
    ("Agent 007", "agent 007"),
    ("", None), ("  ", None), ("---", None), (None, None),
])
def test_normalise_name(raw, expected):
    assert normalise_name(raw) == expected


@pytest.mark.parametrize("written, transliterated", [
    ("Иван Петров", "Ivan Petrov"), ("Nguyễn Văn", "Nguyen Van"), ("Dvořák", "Dvorak"), ("Ελένη", "Eleni"),
    ("Müller", "MULLER"), ("Zoë", "Zoe"), ("Łukasz", "Lukasz"),
])
def test_names_in_any_script_compare_with_their_latin_spelling(written, transliterated):
    assert normalise_name(written) == normalise_name(transliterated)
    assert normalise_names(pa.array([written])).to_pylist() == [normalise_name(transliterated)]


def test_full_name_joins_the_normalised_parts():
    assert normalise_full_name("Jean-Luc", "Picard") == "jean luc picard"
    assert normalise_full_name("", "Picard") == "picard"
    assert normalise_full_name(None, "---") is None


def test_arrow_names_match_the_python_rule():
    names = NAMES + NAMES[::-1] + NAMES   # repeated names are folded once and mapped back
    arrow = normalise_names(pa.array(names, pa.string())).to_pylist()
    assert arrow == [normalise_name(n) for n in names]
    surnames = list(reversed(names))
    joined = join_names(pa.array(arrow, pa.string()), normalise_names(pa.array(surnames, pa.string()))).to_pylist()
    assert joined == [normalise_full_name(g, s) for g, s in zip(names, surnames)]


@pytest.mark.parametrize("text, valid", [
    ("1980-02-29", True), ("1981-02-29", False), ("1980-13-01", False), ("1980-1-1", False),
    ("0000-01-01", False), ("1980-01-01T00:00:00Z", False), ("١٩٨٠-٠١-٠١", False), ("", False),
])
def test_full_date(text, valid):
    assert (parse_full_date(text) is not None) is valid


@pytest.mark.parametrize("text, valid", [
    ("2026-03-01T08:15:00Z", True), ("2026-03-01t08:15:00z", True), ("2026-03-01T08:15:00.123+01:00", True),
    ("2026-03-01 08:15:00Z", False), ("2026-03-01T08:15:00", False), ("2026-03-01T25:00:00Z", False),
    ("2026-02-30T08:00:00Z", False), ("2026-03-01T08:15Z", False),
])
def test_date_time(text, valid):
    assert (parse_date_time(text) is not None) is valid


def test_unit_vector_has_unit_length_as_float32():
    values = np.random.default_rng(3).normal(size=128) * 7
    unit = unit_vector(list(values))
    assert len(unit) == 128
    assert math.isclose(sum(x * x for x in unit), 1.0, rel_tol=1e-5)
    assert np.allclose(unit, values / np.linalg.norm(values), atol=1e-7)
    assert all(float(np.float32(x)) == x for x in unit)


def test_unit_vector_rejects_what_cannot_be_scaled():
    assert unit_vector([0.0] * 128) is None
    assert unit_vector([1e200] * 128) is None       # the squares overflow
    assert embedding_length([3.0, 4.0]) == 5.0


def test_batch_and_single_vector_scaling_agree_exactly():
    matrix = np.random.default_rng(5).normal(size=(50, 128))
    batch = unit_vectors(matrix)
    assert all(batch[i].tolist() == unit_vector(list(matrix[i])) for i in range(50))
