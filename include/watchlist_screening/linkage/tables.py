"""The day's two Splink tables: passengers and the watchlist, read out of Postgres into DuckDB.

Arrow end to end (ADBC → DuckDB) keeps a million rows of 128-float embeddings cheap; the
embedding becomes FLOAT[128] because DuckDB's array_cosine_similarity needs fixed-size
arrays. Both tables get identical columns, as Splink's link_only mode requires.
"""
from __future__ import annotations

import datetime as dt

import adbc_driver_postgresql.dbapi as adbc
import duckdb

EMBEDDING_DIM = 128
PASSENGERS = "passengers"
WATCHLIST = "watchlist"

_PASSENGER_SQL = """
SELECT scan_id AS unique_id, surname_norm, full_name_norm, date_of_birth,
       place_of_birth_norm, nationality, sex, height_cm, eye_colour, face_embedding
FROM warehouse.passengers WHERE scan_day = $1"""

_WATCHLIST_SQL = """
SELECT subject_id AS unique_id, surname_norm, all_names_norm, all_dobs,
       place_of_birth_norm, nationality, sex, height_cm, eye_colour, face_embedding
FROM warehouse.watchlist WHERE version_id = $1"""

# Token-sorted names so that swapped given names and surnames still compare equal.
_TOKEN_SORT = "lambda n: array_to_string(list_sort(string_split(trim(n), ' ')), ' ')"

_SPLINK_COLUMNS = f"""
    unique_id, surname_norm, name_keys, all_dobs, place_of_birth_norm, nationality,
    sex, height_cm::DOUBLE AS height_cm, eye_colour,
    face_embedding::FLOAT[{EMBEDDING_DIM}] AS face_embedding"""


def _fetch_arrow(dsn: str, sql: str, param):
    uri = dsn.replace("postgres://", "postgresql://", 1)
    with adbc.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(sql, (param,))
        return cur.fetch_arrow_table()


def load_tables(con: duckdb.DuckDBPyConnection, dsn: str, day: dt.date, watchlist_version: int) -> dict[str, int]:
    """Create DuckDB tables `passengers` and `watchlist`; return their row counts. An
    encoded day (issue 17) loads its CLKs and templates instead (encoded_tables.py)."""
    from watchlist_screening.linkage import encoded_tables

    if encoded_tables.day_mode(dsn, day, watchlist_version) == "encoded":
        return encoded_tables.load_encoded_tables(con, dsn, day, watchlist_version)
    passengers_arrow = _fetch_arrow(dsn, _PASSENGER_SQL, day)
    watchlist_arrow = _fetch_arrow(dsn, _WATCHLIST_SQL, watchlist_version)
    return load_arrow(con, passengers_arrow, watchlist_arrow)


def load_arrow(con: duckdb.DuckDBPyConnection, passengers_arrow, watchlist_arrow) -> dict[str, int]:
    con.register("passengers_arrow", passengers_arrow)
    con.register("watchlist_arrow", watchlist_arrow)
    con.execute(f"""
        CREATE OR REPLACE TABLE {PASSENGERS} AS
        SELECT {_SPLINK_COLUMNS} FROM (
            SELECT *, CASE WHEN full_name_norm IS NULL OR trim(full_name_norm) = '' THEN []::VARCHAR[]
                           ELSE list_transform([full_name_norm], {_TOKEN_SORT}) END AS name_keys,
                      CASE WHEN date_of_birth IS NULL THEN []::DATE[] ELSE [date_of_birth] END AS all_dobs
            FROM passengers_arrow)""")
    con.execute(f"""
        CREATE OR REPLACE TABLE {WATCHLIST} AS
        SELECT {_SPLINK_COLUMNS} FROM (
            SELECT *, list_filter(list_transform(all_names_norm, {_TOKEN_SORT}), lambda k: k <> '') AS name_keys
            FROM watchlist_arrow)""")
    con.unregister("passengers_arrow")
    con.unregister("watchlist_arrow")
    return {
        PASSENGERS: scalar(con, f"SELECT count(*) FROM {PASSENGERS}"),
        WATCHLIST: scalar(con, f"SELECT count(*) FROM {WATCHLIST}"),
    }


def scalar(con: duckdb.DuckDBPyConnection, sql: str):
    """First value of a query's single row. DuckDB 2 keeps a connection busy until a result
    is fully fetched, so never leave a fetchone() behind."""
    return con.execute(sql).fetchall()[0][0]


def embeddings(con: duckdb.DuckDBPyConnection, table: str, with_sex: bool = False):
    """(ids, float32 matrix n × 128) of a loaded table, rows in id order; with_sex: and
    each row's recorded sex (the photo search blocks on it)."""
    arrow = con.sql(f"SELECT unique_id, face_embedding, sex FROM {table} ORDER BY unique_id").to_arrow_table()
    found = (arrow.column("unique_id").to_pylist(), embedding_matrix(arrow.column("face_embedding")))
    return (*found, arrow.column("sex").to_numpy(zero_copy_only=False)) if with_sex else found


def embedding_matrix(column):
    """An Arrow column of embeddings as a float32 matrix n × 128."""
    import numpy as np

    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat.reshape(-1, EMBEDDING_DIM), dtype=np.float32)
