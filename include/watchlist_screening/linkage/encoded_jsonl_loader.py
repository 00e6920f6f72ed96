"""Load an encoded landing directory (watchlist + one passenger day, watchlist-pprl/1)
straight into DuckDB in the encoded tables' shape, without Spark or Postgres: the encoded
twin of jsonl_loader.py, for the linkage bench and tests that measure linkage rather than
ingest (the Spark job and the end-to-end test cover the real path).
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from watchlist_screening.linkage.encoded_tables import load_encoded_arrow
from watchlist_screening.linkage.jsonl_loader import _unit

_NOT_NULL = "list_filter({0}, lambda x: x IS NOT NULL)"


def passengers_arrow(con: duckdb.DuckDBPyConnection, landing: Path, day: str):
    return con.sql(f"""
        SELECT scan_id AS unique_id, name_clk, surname_clk, dob_clk, place_of_birth_clk, nationality_clk,
               sex, height_cm::REAL AS height_cm, eye_colour, {_unit('e')} AS face_embedding
        FROM (SELECT *, try_cast(face_template AS DOUBLE[]) AS e
              FROM read_json('{landing}/passengers/{day}/*.jsonl*', format='newline_delimited', union_by_name=true,
                             ignore_errors=true,
                             columns={{scan_id: 'VARCHAR', name_clk: 'VARCHAR', surname_clk: 'VARCHAR',
                                      dob_clk: 'VARCHAR', place_of_birth_clk: 'VARCHAR', nationality_clk: 'VARCHAR',
                                      sex: 'VARCHAR', height_cm: 'DOUBLE', eye_colour: 'VARCHAR',
                                      face_template: 'DOUBLE[]'}}))
        WHERE len(e) = 128
        QUALIFY row_number() OVER (PARTITION BY scan_id) = 1""").to_arrow_table()


def watchlist_arrow(con: duckdb.DuckDBPyConnection, landing: Path):
    return con.sql(f"""
        SELECT subject_id AS unique_id, {_NOT_NULL.format('name_clks')} AS name_clks,
               {_NOT_NULL.format('surname_clks')} AS surname_clks,
               {_NOT_NULL.format('coalesce(dob_clks, [dob_clk])')} AS dob_clks,
               place_of_birth_clk, nationality_clk, sex, height_cm::REAL AS height_cm, eye_colour,
               {_unit('face_template')} AS face_embedding
        FROM read_json('{landing}/watchlist/watchlist.jsonl', format='newline_delimited',
                       columns={{subject_id: 'VARCHAR', name_clks: 'VARCHAR[]', surname_clks: 'VARCHAR[]',
                                dob_clk: 'VARCHAR', dob_clks: 'VARCHAR[]', place_of_birth_clk: 'VARCHAR',
                                nationality_clk: 'VARCHAR', sex: 'VARCHAR', height_cm: 'DOUBLE',
                                eye_colour: 'VARCHAR', face_template: 'DOUBLE[]'}})""").to_arrow_table()


def load_encoded_day(con: duckdb.DuckDBPyConnection, landing: Path, day: str) -> dict[str, int]:
    """Create the encoded `passengers` and `watchlist` tables from an encoded landing
    directory; return their row counts."""
    return load_encoded_arrow(con, passengers_arrow(con, landing, day), watchlist_arrow(con, landing))
