"""The day's two Splink tables in the encoded mode (issue 17): CLKs and protected face
templates, read out of Postgres into DuckDB.

The tables keep every column of the clear ones (tables.load_arrow), the clear identity
columns empty, so everything that only reads the physique and the photo (candidates,
grouping, reports, the bench's pairs) works unchanged; the name and date rules of the
candidate search find nothing in them, as they should: the encoder's CLKs are hardened
with per-record bit flips, so equal names never give equal CLKs to join on. The CLKs
become DuckDB BITs once here, so a comparison is bit_count arithmetic and nothing else.
"""
from __future__ import annotations

import duckdb
import psycopg

from watchlist_screening.errors import PermanentError
from watchlist_screening.linkage.tables import EMBEDDING_DIM, PASSENGERS, WATCHLIST, _fetch_arrow, scalar

CLK_COLUMNS = ("name_clks", "surname_clks", "dob_clks", "place_of_birth_clk", "nationality_clk")

_PASSENGER_SQL = """
SELECT scan_id AS unique_id, name_clk, surname_clk, dob_clk, place_of_birth_clk, nationality_clk,
       sex, height_cm, eye_colour, face_embedding
FROM warehouse.passengers WHERE scan_day = $1"""

_WATCHLIST_SQL = """
SELECT subject_id AS unique_id, name_clks, surname_clks, dob_clks, place_of_birth_clk, nationality_clk,
       sex, height_cm, eye_colour, face_embedding
FROM warehouse.watchlist WHERE version_id = $1"""

_BIT = "from_base64({0})::BIT"
_BITS = "list_transform({0}, lambda x: from_base64(x)::BIT)"

# The clear tables' columns (linker._SCHEMA), identity ones empty, then the CLKs.
_SPLINK_COLUMNS = f"""
    unique_id, NULL::VARCHAR AS surname_norm, []::VARCHAR[] AS name_keys, []::DATE[] AS all_dobs,
    NULL::VARCHAR AS place_of_birth_norm, NULL::VARCHAR AS nationality,
    sex, height_cm::DOUBLE AS height_cm, eye_colour,
    face_embedding::FLOAT[{EMBEDDING_DIM}] AS face_embedding,
    name_clks, surname_clks, dob_clks, place_of_birth_clk, nationality_clk"""


def day_mode(dsn: str, day, watchlist_version: int) -> str:
    """The mode the day and its watchlist version were loaded in (normalise's bookkeeping,
    encoded_manifest.py); PermanentError when they differ or their keys do."""
    with psycopg.connect(dsn) as conn:
        day_row = conn.execute("SELECT privacy_mode, key_fingerprint FROM warehouse.day_runs WHERE scan_day = %s",
                               (day,)).fetchone()
        list_row = conn.execute("SELECT privacy_mode, key_fingerprint FROM warehouse.watchlist_versions "
                                "WHERE version_id = %s", (watchlist_version,)).fetchone()
    day_mode_, day_key = day_row or ("clear", None)
    list_mode, list_key = list_row or ("clear", None)
    if (day_mode_, day_key) != (list_mode, list_key):
        raise PermanentError(f"day {day} was loaded {day_mode_} (key {day_key}) but its watchlist version "
                             f"{watchlist_version} {list_mode} (key {list_key}): re-run normalise for the day "
                             "in the watchlist's mode and key")
    return list_mode


def load_encoded_tables(con: duckdb.DuckDBPyConnection, dsn: str, day, watchlist_version: int) -> dict[str, int]:
    """Create DuckDB tables `passengers` and `watchlist` of an encoded day; their row counts."""
    return load_encoded_arrow(con, _fetch_arrow(dsn, _PASSENGER_SQL, day), _fetch_arrow(dsn, _WATCHLIST_SQL,
                                                                                       watchlist_version))


def load_encoded_arrow(con: duckdb.DuckDBPyConnection, passengers_arrow, watchlist_arrow) -> dict[str, int]:
    """The encoded tables from Arrow tables of the warehouse's encoded columns (CLKs as
    base64 text: a passenger's single name_clk, surname_clk and dob_clk, a watchlist
    entry's name_clks, surname_clks and dob_clks, every listed name and date)."""
    con.register("passengers_arrow", passengers_arrow)
    con.register("watchlist_arrow", watchlist_arrow)
    singles = ", ".join(_BIT.format(c) + f" AS {c}" for c in ("place_of_birth_clk", "nationality_clk"))
    as_list = "CASE WHEN {0} IS NULL THEN []::BIT[] ELSE [" + _BIT + "] END"
    con.execute(f"""
        CREATE OR REPLACE TABLE {PASSENGERS} AS
        SELECT {_SPLINK_COLUMNS} FROM (
            SELECT * EXCLUDE (name_clk, surname_clk, dob_clk, place_of_birth_clk, nationality_clk),
                   {as_list.format('name_clk')} AS name_clks, {as_list.format('surname_clk')} AS surname_clks,
                   {as_list.format('dob_clk')} AS dob_clks, {singles}
            FROM passengers_arrow)""")
    lists = ", ".join(f"coalesce({_BITS.format(c)}, []::BIT[]) AS {c}" for c in ("name_clks", "surname_clks", "dob_clks"))
    con.execute(f"""
        CREATE OR REPLACE TABLE {WATCHLIST} AS
        SELECT {_SPLINK_COLUMNS} FROM (
            SELECT * EXCLUDE (name_clks, surname_clks, dob_clks, place_of_birth_clk, nationality_clk),
                   {lists}, {singles}
            FROM watchlist_arrow)""")
    con.unregister("passengers_arrow")
    con.unregister("watchlist_arrow")
    return {PASSENGERS: scalar(con, f"SELECT count(*) FROM {PASSENGERS}"),
            WATCHLIST: scalar(con, f"SELECT count(*) FROM {WATCHLIST}")}


def is_encoded(con: duckdb.DuckDBPyConnection, table: str = PASSENGERS) -> bool:
    """Whether the loaded day is an encoded one (its tables carry CLKs)."""
    return "name_clks" in {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
