"""The identity comparison (comparisons.IDENTITY): which level a pair of records falls in,
evaluated with the level SQL Splink runs, so a travel mode lands where the model expects."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from watchlist_screening.linkage.comparisons import (
    IDENTITY,
    PHYSIQUE,
    face_band_of,
    has_joint_identity,
    split_by_face_band,
)
from watchlist_screening.linkage.linker import settings_creator

LISTED = {"name_keys": ["anna maria rossi"], "surname_norm": "rossi", "all_dobs": [dt.date(1980, 3, 4)],
          "place_of_birth_norm": "milano", "nationality": "ITA"}


def _level(passenger: dict) -> str:
    """The label of the identity level `passenger` falls in against LISTED."""
    settings = settings_creator(joint_identity=True).get_settings("duckdb").as_dict()
    identity = next(c for c in settings["comparisons"] if c["output_column_name"] == IDENTITY)
    con = duckdb.connect()
    columns = ("name_keys VARCHAR[]", "surname_norm VARCHAR", "all_dobs DATE[]", "place_of_birth_norm VARCHAR",
               "nationality VARCHAR")
    select = ", ".join(f"?::{kind.split()[1]} AS {kind.split()[0]}_{side}" for side in ("l", "r") for kind in columns)
    values = [passenger.get(c.split()[0]) for c in columns] + [LISTED[c.split()[0]] for c in columns]
    for level in identity["comparison_levels"]:
        if level["sql_condition"] == "ELSE":
            return level["label_for_charts"]
        if con.execute(f"SELECT ({level['sql_condition']}) FROM (SELECT {select})", values).fetchall()[0][0]:
            return level["label_for_charts"]
    raise AssertionError("no level matched")


@pytest.mark.parametrize(("passenger", "label"), [
    (LISTED, "Same name, date of birth and place of birth or nationality"),
    ({**LISTED, "place_of_birth_norm": "lyon", "nationality": "FRA"}, "Same name and date of birth (any alias)"),
    ({**LISTED, "name_keys": ["anna maria rosi"], "all_dobs": [dt.date(1981, 1, 1)]},
     "Name alike, date of birth within a year"),
    ({**LISTED, "all_dobs": [dt.date(1995, 1, 1)]}, "Name alike (Jaro-Winkler >= 0.88), date of birth not"),
    ({**LISTED, "name_keys": ["li wei"], "surname_norm": "li"}, "Date of birth agrees, name not"),
    ({**LISTED, "all_dobs": [dt.date(1980, 4, 3)], "name_keys": ["li wei"], "surname_norm": "li"},
     "Date of birth agrees, name not"),   # day and month transposed
    ({**LISTED, "name_keys": ["marco rossi"], "all_dobs": [dt.date(1983, 1, 1)]},
     "Same surname, date of birth within 5 years"),
    ({"name_keys": ["li wei"], "surname_norm": "li", "all_dobs": [dt.date(1984, 1, 1)]},
     "Date of birth within 5 years, name not"),
    ({"name_keys": ["li wei"], "surname_norm": "li", "all_dobs": [dt.date(1950, 1, 1)],
      "place_of_birth_norm": "milano", "nationality": "ITA"}, "Place of birth and nationality only"),
    ({"name_keys": ["li wei"], "surname_norm": "li", "all_dobs": [dt.date(1950, 1, 1)], "nationality": "ITA"},
     "Place of birth or nationality only"),
    # a new identity: nothing agrees, one level, counted once (not four times)
    ({"name_keys": ["li wei"], "surname_norm": "li", "all_dobs": [dt.date(1950, 1, 1)],
      "place_of_birth_norm": "wuhan", "nationality": "CHN"}, "All other comparisons"),
    ({}, "No identity field on one side"),
])
def test_identity_levels(passenger, label):
    assert _level(passenger) == label


def test_joint_identity_replaces_the_four_identity_comparisons():
    joint = settings_creator(joint_identity=True).get_settings("duckdb").as_dict()
    separate = settings_creator().get_settings("duckdb").as_dict()
    assert [c["output_column_name"] for c in joint["comparisons"]] == \
           ["face_embedding", "sex", "height_cm", "eye_colour", IDENTITY]
    assert has_joint_identity(joint) and not has_joint_identity(separate)


def test_physique_levels_once_per_face_band():
    settings = settings_creator(joint_identity=True).get_settings("duckdb").as_dict()
    before = {c["output_column_name"]: c["comparison_levels"] for c in settings["comparisons"]}
    assert face_band_of(settings) is None
    split_by_face_band(settings, 0.55)
    assert face_band_of(settings) == 0.55
    for comparison in settings["comparisons"]:
        name, levels = comparison["output_column_name"], comparison["comparison_levels"]
        if name not in PHYSIQUE:
            assert levels == before[name], name
            continue
        null = [lvl for lvl in before[name] if lvl.get("is_null_level")]
        rest = [lvl for lvl in before[name] if not lvl.get("is_null_level")]
        assert levels[:len(null)] == null and levels[-len(rest):] == rest, name
        alike = levels[len(null):len(null) + len(rest)]
        assert all(lvl["label_for_charts"].startswith("Face alike (cosine >= 0.55): ") for lvl in alike)
        assert all("array_cosine_similarity(face_embedding_l, face_embedding_r) >= 0.55" in lvl["sql_condition"]
                   for lvl in alike)
        # the band's else level takes every alike pair the band's other levels did not
        assert alike[-1]["sql_condition"] == "array_cosine_similarity(face_embedding_l, face_embedding_r) >= 0.55"
    with pytest.raises(ValueError, match="already"):
        split_by_face_band(settings, 0.55)


def test_face_band_decides_the_level_a_pair_falls_in():
    """Two pairs of the same build, one with alike faces: each in its own band."""
    settings = split_by_face_band(settings_creator(joint_identity=True).get_settings("duckdb").as_dict(), 0.5)
    sex = next(c for c in settings["comparisons"] if c["output_column_name"] == "sex")
    con = duckdb.connect()

    def level(face_r: list[float]) -> str:
        row = ("SELECT 'F' AS sex_l, 'F' AS sex_r, [1.0, 0.0]::FLOAT[2] AS face_embedding_l, "
               f"{face_r}::FLOAT[2] AS face_embedding_r")
        for lvl in sex["comparison_levels"]:
            if lvl["sql_condition"] == "ELSE" or con.execute(f"SELECT ({lvl['sql_condition']}) FROM ({row})").fetchall()[0][0]:
                return lvl["label_for_charts"]
        raise AssertionError("no level")

    assert level([0.9, 0.1]).startswith("Face alike")
    assert not level([0.1, 0.9]).startswith("Face alike")
