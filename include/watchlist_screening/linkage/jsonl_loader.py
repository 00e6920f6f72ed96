"""Load a landing directory's JSONL (watchlist + one passenger day) straight into DuckDB in
the warehouse's shape, without Spark or Postgres.

For unit tests and the linkage bench, which measure linkage rather than normalisation:
name cleaning here is a light SQL version of the Spark job's (lower case, accents
stripped, non-alphanumerics to spaces); invalid lines are skipped rather than
quarantined (the Spark job and the end-to-end test cover the real path). Embeddings are
L2-normalised, as the warehouse stores them.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from watchlist_screening.linkage import tables

_NORM = "trim(regexp_replace(lower(strip_accents({0})), '[^a-z0-9]+', ' ', 'g'))"


def _unit(col: str) -> str:
    # norm computed once per row (a nested lambda would recompute it per element)
    return f"list_transform({col}, lambda x: x / sqrt(list_dot_product({col}, {col})))::FLOAT[]"


def passengers_arrow(con: duckdb.DuckDBPyConnection, landing: Path, day: str):
    """The day's passengers (every airport file, .jsonl or .jsonl.gz) as an Arrow table in
    the warehouse's passenger columns; lines without 128 numbers in the embedding or a numeric
    height are skipped, a repeated scan_id keeps its first line."""
    full = _NORM.format("given_names || ' ' || surname")
    return con.sql(f"""
        SELECT scan_id AS unique_id, {_NORM.format('surname')} AS surname_norm, {full} AS full_name_norm,
               try_cast(date_of_birth AS DATE) AS date_of_birth, {_NORM.format('place_of_birth')} AS place_of_birth_norm,
               nationality, sex, height_cm::REAL AS height_cm, eye_colour, {_unit('e')} AS face_embedding
        FROM (SELECT *, try_cast(face_embedding AS DOUBLE[]) AS e
              FROM read_json('{landing}/passengers/{day}/*.jsonl*', format='newline_delimited',
                             union_by_name=true, ignore_errors=true))
        WHERE len(e) = 128 AND list_count(e) = 128 AND height_cm::VARCHAR SIMILAR TO '[0-9.]+'
        QUALIFY row_number() OVER (PARTITION BY scan_id) = 1""").to_arrow_table()


def watchlist_arrow(con: duckdb.DuckDBPyConnection, landing: Path):
    """The watchlist snapshot as an Arrow table in the warehouse's watchlist columns
    (all names and dates of birth of an entry, primary first, aliases after)."""
    full = _NORM.format("given_names || ' ' || surname")
    alias_name = _NORM.format("a.given_names || ' ' || a.surname")
    return con.sql(f"""
        SELECT subject_id AS unique_id, {_NORM.format('surname')} AS surname_norm,
               list_prepend({full}, coalesce(list_transform(aliases, lambda a: {alias_name}), [])) AS all_names_norm,
               list_filter(list_prepend(try_cast(date_of_birth AS DATE),
                   coalesce(list_transform(aliases, lambda a: try_cast(a.date_of_birth AS DATE)), [])),
                   lambda d: d IS NOT NULL) AS all_dobs,
               {_NORM.format('place_of_birth')} AS place_of_birth_norm, nationality, sex,
               height_cm::REAL AS height_cm, eye_colour, {_unit('face_embedding')} AS face_embedding
        FROM read_json('{landing}/watchlist/watchlist.jsonl', format='newline_delimited')""").to_arrow_table()


def load_generated_day(con: duckdb.DuckDBPyConnection, landing: Path, day: str) -> dict[str, int]:
    """Create the `passengers` and `watchlist` tables (tables.load_arrow) from a landing
    directory; return their row counts."""
    return tables.load_arrow(con, passengers_arrow(con, landing, day), watchlist_arrow(con, landing))
