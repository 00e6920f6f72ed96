"""The identity comparison (comparisons.IDENTITY): which level a pair of records falls in,
evaluated with the level SQL Splink runs, so a travel mode lands where the model expects."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from watchlist_screening.linkage.comparisons import IDENTITY, has_joint_identity
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
