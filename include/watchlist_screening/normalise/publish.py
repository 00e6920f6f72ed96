"""Publishing staged records to the warehouse, each in ONE transaction: a day replaces
exactly that day's passengers and passenger quarantine; a watchlist becomes a new version.

Duplicate ids are settled here, in SQL over the staging table, rather than in Spark:
which line is first is only known among the good lines, and finding out in Spark would
cost a second pass or a shuffle of every record. Their raw text is read back from the
landing files on the driver (few lines, read in one pass per file).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Iterator

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.landing import LandingFile
from watchlist_screening.normalise.raw_lines import pick_lines
from watchlist_screening.normalise.records import Dataset
from watchlist_screening.normalise.staging import StagingTable

_DAY_LOCK = 0x5C12EF   # advisory lock namespace: one publisher per scan day at a time


@dataclass(frozen=True)
class Duplicate:
    source_file: str
    line_number: int
    id: str
    first_file: str
    first_line: int


@dataclass(frozen=True)
class Published:
    rows: int
    quarantined_by_reason: dict[str, int]

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())


def later_duplicates(conn: psycopg.Connection, table: StagingTable, attempts: list[int],
                     id_column: str) -> list[Duplicate]:
    """Good lines whose id an earlier good line (by file, then line) already has."""
    query = sql.SQL("""
        SELECT source_file, line_number, id, first_file, first_line FROM (
            SELECT source_file, line_number, {id} AS id,
                   first_value(source_file) OVER w AS first_file,
                   first_value(line_number) OVER w AS first_line,
                   row_number() OVER w AS occurrence
            FROM {staging}
            WHERE reason IS NULL AND write_attempt = ANY(%(attempts)s) AND {id} IN (
                SELECT {id} FROM {staging} WHERE reason IS NULL AND write_attempt = ANY(%(attempts)s)
                GROUP BY {id} HAVING count(*) > 1)
            WINDOW w AS (PARTITION BY {id} ORDER BY source_file COLLATE "C", line_number)) ranked
        WHERE occurrence > 1
        ORDER BY source_file COLLATE "C", line_number""").format(id=sql.Identifier(id_column), staging=table.identifier)
    return [Duplicate(*row) for row in conn.execute(query, {"attempts": attempts}).fetchall()]


def _duplicate_rows(duplicates: list[Duplicate], files: dict[str, LandingFile],
                    dataset: Dataset) -> Iterator[tuple]:
    for source_file, group in groupby(duplicates, key=lambda d: d.source_file):
        by_line = {d.line_number: d for d in group}
        for number, text in pick_lines(files[source_file], by_line):
            d = by_line[number]
            detail = c.DUPLICATE_DETAIL.format(label=dataset.id_column, value=d.id,
                                               first_file=d.first_file, first_line=d.first_line)
            yield source_file, number, text.replace("\x00", "\ufffd"), dataset.duplicate_reason, detail


def _stage_duplicates(conn: psycopg.Connection, duplicates: list[Duplicate], files: dict[str, LandingFile],
                      dataset: Dataset) -> None:
    conn.execute("""CREATE TEMP TABLE later_duplicates (source_file text, line_number integer,
                        raw_text text, reason text, detail text) ON COMMIT DROP""")
    with conn.cursor().copy("COPY later_duplicates FROM STDIN") as copy:
        for row in _duplicate_rows(duplicates, files, dataset):
            copy.write_row(row)


def _good_rows(table: StagingTable, columns: list[str], extra: dict[str, sql.Composable]) -> sql.Composed:
    """SELECT of the staged good lines that are not later duplicates, as `columns`."""
    sources = [extra.get(name, sql.Identifier(name)) for name in columns]
    return sql.SQL("""SELECT {sources} FROM {staging} s
        WHERE s.reason IS NULL AND s.write_attempt = ANY(%(attempts)s)
          AND NOT EXISTS (SELECT 1 FROM later_duplicates d
                          WHERE d.source_file = s.source_file AND d.line_number = s.line_number)""").format(
        sources=sql.SQL(", ").join(sources), staging=table.identifier)


def _insert_quarantine(conn: psycopg.Connection, table: StagingTable, dataset: Dataset,
                       scan_day: date | None, version: int | None, attempts: list[int]) -> None:
    conn.execute(sql.SQL("""
        INSERT INTO warehouse.quarantine
            (scan_day, dataset, watchlist_version, source_file, line_number, raw_text, reason, detail)
        SELECT %(day)s::date, %(dataset)s, %(version)s::integer, source_file, line_number, coalesce(raw_text, ''), reason, detail
        FROM {staging} WHERE reason IS NOT NULL AND write_attempt = ANY(%(attempts)s)
        UNION ALL
        SELECT %(day)s::date, %(dataset)s, %(version)s::integer, source_file, line_number, raw_text, reason, detail
        FROM later_duplicates""").format(staging=table.identifier),
        {"day": scan_day, "dataset": dataset.name, "version": version, "attempts": attempts})


def _quarantined_by_reason(conn: psycopg.Connection, condition: sql.Composable, params: dict) -> dict[str, int]:
    query = sql.SQL("SELECT reason, count(*) FROM warehouse.quarantine WHERE {} GROUP BY reason ORDER BY reason")
    return dict(conn.execute(query.format(condition), params).fetchall())


def publish_day(conninfo: str, scan_day: date, dataset: Dataset, table: StagingTable, attempts: list[int],
                columns: list[str], files: list[LandingFile], watchlist_version: int) -> tuple[Published, list[Duplicate]]:
    """Replace the day's passengers and passenger quarantine, and upsert its day_runs counts."""
    with psycopg.connect(conninfo) as conn:
        duplicates = later_duplicates(conn, table, attempts, dataset.id_column)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_DAY_LOCK, scan_day.toordinal()))
            _stage_duplicates(conn, duplicates, {f.relative: f for f in files}, dataset)
            params = {"day": scan_day, "attempts": attempts}
            conn.execute("DELETE FROM warehouse.passengers WHERE scan_day = %(day)s", params)
            conn.execute("DELETE FROM warehouse.quarantine WHERE dataset = 'passengers' AND scan_day = %(day)s", params)
            targets = ["scan_day", *columns, "source_file", "source_line"]
            inserted = conn.execute(sql.SQL("INSERT INTO warehouse.passengers ({}) {}").format(
                sql.SQL(", ").join(map(sql.Identifier, targets)),
                _good_rows(table, targets, {"scan_day": sql.SQL("%(day)s"), "source_line": sql.SQL("line_number")})),
                params).rowcount
            _insert_quarantine(conn, table, dataset, scan_day, None, attempts)
            by_reason = _quarantined_by_reason(
                conn, sql.SQL("dataset = 'passengers' AND scan_day = %(day)s"), params)
            conn.execute("""
                INSERT INTO warehouse.day_runs AS r
                    (scan_day, watchlist_version, passengers, quarantined, quarantined_by_reason, updated_at)
                VALUES (%(day)s, %(version)s, %(passengers)s, %(quarantined)s, %(by_reason)s, now())
                ON CONFLICT (scan_day) DO UPDATE SET
                    watchlist_version = EXCLUDED.watchlist_version, passengers = EXCLUDED.passengers,
                    quarantined = EXCLUDED.quarantined, quarantined_by_reason = EXCLUDED.quarantined_by_reason,
                    updated_at = EXCLUDED.updated_at""",
                {**params, "version": watchlist_version, "passengers": inserted,
                 "quarantined": sum(by_reason.values()), "by_reason": Jsonb(by_reason)})
    return Published(inserted, by_reason), duplicates


def _version_of(conn: psycopg.Connection, content_hash: str) -> int | None:
    row = conn.execute("SELECT version_id FROM warehouse.watchlist_versions WHERE content_hash = %s",
                       (content_hash,)).fetchone()
    return row[0] if row else None


def known_watchlist_version(conninfo: str, content_hash: str) -> int | None:
    with psycopg.connect(conninfo) as conn:
        return _version_of(conn, content_hash)


def publish_watchlist(conninfo: str, content_hash: str, dataset: Dataset, table: StagingTable,
                      attempts: list[int], columns: list[str], file: LandingFile) -> tuple[int, Published | None]:
    """A new watchlist version; (its id, counts), or (the id, None) when another run
    published the same content first."""
    with psycopg.connect(conninfo) as conn:
        duplicates = later_duplicates(conn, table, attempts, dataset.id_column)
        with conn.transaction():
            row = conn.execute("""
                INSERT INTO warehouse.watchlist_versions (content_hash, source_file, row_count, quarantined)
                VALUES (%s, %s, 0, 0) ON CONFLICT (content_hash) DO NOTHING RETURNING version_id""",
                (content_hash, file.relative)).fetchone()
            if row is None:
                return _version_of(conn, content_hash), None
            version = row[0]
            _stage_duplicates(conn, duplicates, {file.relative: file}, dataset)
            targets = ["version_id", *columns, "source_line"]
            inserted = conn.execute(sql.SQL("INSERT INTO warehouse.watchlist ({}) {}").format(
                sql.SQL(", ").join(map(sql.Identifier, targets)),
                _good_rows(table, targets, {"version_id": sql.SQL("%(version)s"), "source_line": sql.SQL("line_number")})),
                {"version": version, "attempts": attempts}).rowcount
            _insert_quarantine(conn, table, dataset, None, version, attempts)
            by_reason = _quarantined_by_reason(
                conn, sql.SQL("dataset = 'watchlist' AND watchlist_version = %(version)s"), {"version": version})
            conn.execute("UPDATE warehouse.watchlist_versions SET row_count = %s, quarantined = %s WHERE version_id = %s",
                         (inserted, sum(by_reason.values()), version))
    return version, Published(inserted, by_reason)

