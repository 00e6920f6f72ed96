"""The encoded mode's comparisons (linkage/encoded_comparisons.py): Dice in DuckDB SQL
against the encoder's own Python Dice, the identity levels a pair of encoded records
falls in (with CLKs the real encoder makes), and the EM trainer on an encoded generated
day through the same machinery as the clear one."""
from __future__ import annotations

import base64
import datetime as dt
import os
import random

import duckdb
import pytest

from tests.unit.linkage_data import DAY, generate_day
from watchlist_screening.linkage.comparisons import IDENTITY, comparisons
from watchlist_screening.linkage.encoded_comparisons import DiceLevels, best_dice_sql, dice_sql, encoded_identity
from watchlist_screening.linkage.linker import settings_creator
from watchlist_screening.privacy import dice as python_dice
from watchlist_screening.privacy import records

SECRET = bytes(range(32))


def _bits(con: duckdb.DuckDBPyConnection, sql: str, *params):
    return con.execute(sql, list(params)).fetchall()[0][0]


def _clk(rng: random.Random, density: float) -> str:
    return base64.b64encode(bytes(sum(1 << b for b in range(8) if rng.random() < density) for _ in range(128))).decode()


def test_dice_sql_is_the_encoders_dice_to_the_last_bit():
    rng, con = random.Random(7), duckdb.connect()
    for density in (0.01, 0.2, 0.5, 0.9):
        for _ in range(20):
            a, b = _clk(rng, density), _clk(rng, rng.random())
            got = _bits(con, f"SELECT {dice_sql('a', 'b')} FROM (SELECT from_base64(?)::BIT AS a, "
                             "from_base64(?)::BIT AS b)", a, b)
            assert got == pytest.approx(python_dice.dice(a, b), abs=1e-12)


def test_dice_sql_of_a_missing_or_empty_clk_is_null_not_a_level():
    con, empty = duckdb.connect(), base64.b64encode(bytes(128)).decode()
    pair = "FROM (SELECT from_base64(?)::BIT AS a, {0} AS b)"
    assert _bits(con, f"SELECT {dice_sql('a', 'b')} " + pair.format("NULL::BIT"), empty) is None
    assert _bits(con, f"SELECT {dice_sql('a', 'b')} " + pair.format("from_base64(?)::BIT"), empty, empty) is None


def test_best_dice_takes_the_best_pairing_either_way_round():
    rng, con = random.Random(3), duckdb.connect()
    listed = [_clk(rng, 0.2) for _ in range(4)]
    passenger = listed[2][:100] + _clk(rng, 0.2)[100:]   # close to the third alias only
    expected = max(python_dice.dice(passenger, x) for x in listed)
    sql = f"""SELECT {best_dice_sql('c')} FROM (SELECT
        list_transform(?::VARCHAR[], lambda x: from_base64(x)::BIT) AS c_l,
        list_transform(?::VARCHAR[], lambda x: from_base64(x)::BIT) AS c_r)"""
    assert _bits(con, sql, [passenger], listed) == pytest.approx(expected)
    assert _bits(con, sql, listed, [passenger]) == pytest.approx(expected)
    assert _bits(con, sql, [], listed) is None


LISTED = {"subject_id": "W1", "given_names": "Anna Maria", "surname": "Rossi", "date_of_birth": "1980-03-04",
          "place_of_birth": "Milano", "nationality": "ITA", "sex": "F", "height_cm": 170, "eye_colour": "blue",
          "face_embedding": [1.0] * 128,
          "aliases": [{"given_names": "Ana", "surname": "Russo", "date_of_birth": "1981-07-09"}]}
TRAVELLER = {"scan_id": "P1", "airport": "LHR", "scanned_at": "2031-01-01T10:00:00Z", "given_names": "Anna Maria",
             "surname": "Rossi", "date_of_birth": "1980-03-04", "place_of_birth": "Milano", "nationality": "ITA",
             "sex": "F", "height_cm": 170, "eye_colour": "blue", "face_embedding": [1.0] * 128}


def _identity_level(passenger: dict, listed: dict = LISTED, levels: DiceLevels = DiceLevels()) -> str:
    """The label of the encoded identity level the encoded `passenger` falls in against
    the encoded `listed`, evaluated with the level SQL Splink runs."""
    p, w = records.encode_passenger(passenger, SECRET), records.encode_watchlist_entry(listed, SECRET)
    sides = {"l": {"name_clks": [p["name_clk"]], "surname_clks": [p["surname_clk"]], "dob_clks": [p["dob_clk"]],
                   "place_of_birth_clk": p["place_of_birth_clk"], "nationality_clk": p["nationality_clk"]},
             "r": {"name_clks": w["name_clks"], "surname_clks": w["surname_clks"], "dob_clks": w["dob_clks"],
                   "place_of_birth_clk": w["place_of_birth_clk"], "nationality_clk": w["nationality_clk"]}}
    columns, values = [], []
    for side, fields in sides.items():
        for name, value in fields.items():
            if isinstance(value, list):
                columns.append(f"list_transform(list_filter(?::VARCHAR[], lambda x: x IS NOT NULL), "
                               f"lambda x: from_base64(x)::BIT) AS {name}_{side}")
            else:
                columns.append(f"from_base64(?::VARCHAR)::BIT AS {name}_{side}")
            values.append(value)
    comparison = encoded_identity(levels).get_comparison("duckdb").as_dict()
    con = duckdb.connect()
    for level in comparison["comparison_levels"]:
        if level["sql_condition"] == "ELSE":
            return level["label_for_charts"]
        if con.execute(f"SELECT ({level['sql_condition']}) FROM (SELECT {', '.join(columns)})", values).fetchall()[0][0]:
            return level["label_for_charts"]
    raise AssertionError("no level matched")


@pytest.mark.parametrize(("changes", "label_starts"), [
    ({}, "Name and date of birth encode alike, and place of birth or nationality"),
    ({"place_of_birth": "Lyon", "nationality": "FRA"}, "Name (Dice >= "),
    # travelling under a listed alias, with its own date of birth
    ({"given_names": "Ana", "surname": "Russo", "date_of_birth": "1981-07-09", "place_of_birth": None,
      "nationality": None}, "Name (Dice >= "),
    ({"surname": "Rosi", "date_of_birth": "1981-03-04"}, "Name alike"),
    ({"given_names": "Wei", "surname": "Li", "place_of_birth": None, "nationality": None},
     "Date of birth encodes alike"),
    ({"given_names": "Marco", "date_of_birth": "1983-03-04", "place_of_birth": None, "nationality": None},
     "Surname (Dice >= "),
    ({"given_names": "Wei", "surname": "Li", "date_of_birth": "1950-11-27", "place_of_birth": "Wuhan",
      "nationality": "ITA"}, "Place of birth or nationality only"),
    # a new identity: nothing agrees, one level, counted once
    ({"given_names": "Wei", "surname": "Li", "date_of_birth": "1950-11-27", "place_of_birth": "Wuhan",
      "nationality": "CHN"}, "All other comparisons"),
])
def test_encoded_identity_levels_follow_the_clear_ones(changes, label_starts):
    passenger = {k: v for k, v in {**TRAVELLER, **changes}.items() if v is not None}
    assert _identity_level(passenger).startswith(label_starts)


def test_the_levels_are_read_off_the_configured_boundaries():
    # a slightly misspelt name falls under "alike", not "same", once "same" asks for more
    passenger = {**TRAVELLER, "given_names": "Anna Marai"}
    assert _identity_level(passenger, levels=DiceLevels(name_same=0.99)).startswith("Name alike")


def test_the_encoded_identity_takes_the_clear_ones_place_in_the_same_comparisons():
    clear = [c.get_comparison("duckdb").as_dict()["output_column_name"] for c in comparisons(joint_identity=True)]
    encoded = settings_creator(joint_identity=True, identity=encoded_identity()).get_settings("duckdb").as_dict()
    assert [c["output_column_name"] for c in encoded["comparisons"]] == clear
    identity = encoded["comparisons"][-1]
    assert identity["output_column_name"] == IDENTITY
    assert "bit_count" in identity["comparison_levels"][1]["sql_condition"]
    assert "jaro_winkler" not in str(identity)


@pytest.fixture(scope="module")
def encoded_day(tmp_path_factory):
    from watchlist_screening.privacy.encode import encode_landing

    root = tmp_path_factory.mktemp("encoded_day")
    clear = generate_day(root / "clear", 3000, 3000, 40, 5)
    encode_landing(clear, root / "encoded", SECRET)
    return clear, root / "encoded"


def test_the_em_trainer_learns_an_encoded_day_as_it_learns_a_clear_one(encoded_day):
    from watchlist_screening.evaluation.screening_truth import evaluate, load_truth
    from watchlist_screening.linkage import candidates, scoring, screen_day
    from watchlist_screening.linkage.encoded_jsonl_loader import load_encoded_day

    clear, encoded = encoded_day
    con = duckdb.connect()
    counts = load_encoded_day(con, encoded, DAY)
    counts["candidate_pairs"] = candidates.build_candidates(con)
    # no rule candidates: hardened CLKs of equal names differ, there is nothing to join on
    assert con.execute("SELECT count(*) FROM candidate_pairs WHERE via_rules").fetchall()[0][0] == 0
    model, notes = screen_day.train_model(con, counts, "em")
    assert notes["trainer"].startswith("em (encoded")
    identity = next(c for c in model["comparisons"] if c["output_column_name"] == IDENTITY)
    top = next(level for level in identity["comparison_levels"] if not level.get("is_null_level"))
    # agreeing on name, date and origin is strong evidence, as in clear mode
    assert top["m_probability"] > 100 * top["u_probability"]
    scoring.score(con, model, notes["recommended_threshold"])
    alerts = con.execute("SELECT scan_id, subject_id FROM matches").fetchall()
    result = evaluate(load_truth(clear, dt.date.fromisoformat(DAY)), alerts, dt.date.fromisoformat(DAY))
    assert result.recall >= 0.95, result.missed_scan_ids
    assert result.precision >= 0.9, result.false_alerts
    # no clear value went into the tables the linkage reads
    assert con.execute("SELECT count(*) FROM passengers WHERE surname_norm IS NOT NULL OR len(name_keys) > 0 "
                       "OR len(all_dobs) > 0").fetchall()[0][0] == 0
