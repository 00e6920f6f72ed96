"""Load a generated landing day straight into DuckDB in the warehouse's shape, so linkage
unit tests run in seconds without Spark or Postgres. Name cleaning here is a light SQL
version of the Spark job's; the end-to-end test covers the real path."""
from __future__ import annotations

from pathlib import Path

import duckdb

from watchlist_screening.linkage import data

_NORM = "trim(regexp_replace(lower(strip_accents({0})), '[^a-z0-9]+', ' ', 'g'))"


def _unit(col: str) -> str:
    return f"list_transform({col}, lambda x: x / sqrt(list_sum(list_transform({col}, lambda y: y * y))))::FLOAT[]"


def load_generated_day(con: duckdb.DuckDBPyConnection, landing: Path, day: str) -> dict[str, int]:
    full = _NORM.format("given_names || ' ' || surname")
    passengers = con.sql(f"""
        SELECT scan_id AS unique_id, {_NORM.format('surname')} AS surname_norm, {full} AS full_name_norm,
               try_cast(date_of_birth AS DATE) AS date_of_birth, {_NORM.format('place_of_birth')} AS place_of_birth_norm,
               nationality, sex, height_cm::REAL AS height_cm, eye_colour, {_unit('face_embedding')} AS face_embedding
        FROM read_json('{landing}/passengers/{day}/*.jsonl', format='newline_delimited', union_by_name=true)
        WHERE len(face_embedding) = 128 AND height_cm::VARCHAR SIMILAR TO '[0-9.]+'
        QUALIFY row_number() OVER (PARTITION BY scan_id) = 1""").to_arrow_table()
    alias_name = _NORM.format("a.given_names || ' ' || a.surname")
    watchlist = con.sql(f"""
        SELECT subject_id AS unique_id, {_NORM.format('surname')} AS surname_norm,
               list_prepend({full}, coalesce(list_transform(aliases, lambda a: {alias_name}), [])) AS all_names_norm,
               list_filter(list_prepend(try_cast(date_of_birth AS DATE),
                   coalesce(list_transform(aliases, lambda a: try_cast(a.date_of_birth AS DATE)), [])),
                   lambda d: d IS NOT NULL) AS all_dobs,
               {_NORM.format('place_of_birth')} AS place_of_birth_norm, nationality, sex,
               height_cm::REAL AS height_cm, eye_colour, {_unit('face_embedding')} AS face_embedding
        FROM read_json('{landing}/watchlist/watchlist.jsonl', format='newline_delimited')""").to_arrow_table()
    return data.load_arrow(con, passengers, watchlist)
