"""Publishing staged records to the warehouse, each in ONE transaction: a day replaces
exactly that day's passengers and passenger quarantine; a watchlist becomes a new version.

warehouse.passengers is partitioned by scan_day (V004). The day's staging table is built
to be its partition: rows of superseded attempts and later duplicates are deleted, its
key index and a CHECK on the day are built outside the lock, and the publish transaction
drops the old partition and attaches the new one, so a day's million rows are written
once (by COPY) instead of copied again by INSERT ... SELECT and deleted later by VACUUM.

Duplicate ids are settled here, in SQL over the staging table, rather than in Spark:
which line is first is only known among the good lines, and finding out in Spark would
cost a second pass or a shuffle of every record. Their raw text is read back from the
landing files on the driver (few lines, read in one pass per file; for Parquet, the row
groups that hold them).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Iterator, Sequence

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.landing import LandingFile, RejectedEntry
from watchlist_screening.normalise.parquet import pick_rows
from watchlist_screening.normalise.raw_lines import pick_lines
from watchlist_screening.normalise.batch_rows import LINE_COLUMNS
from watchlist_screening.normalise.records import Dataset
from watchlist_screening.normalise.staging import StagingTables

log = logging.getLogger(__name__)
_DAY_LOCK = 0x5C12EF   # advisory lock namespace: one publisher per scan day at a time


@dataclass(frozen=True)
class Duplicate:
    source_file: str
    line_number: int
    id: str
    first_file: str
    first_line: int
    row: str          # the staged row's ctid, to delete it without another scan


@dataclass(frozen=True)
class Published:
    rows: int
    quarantined_by_reason: dict[str, int]

    @property
    def quarantined(self) -> int:
        """Lines (and file-level entries) not loaded; warnings are about loaded lines."""
        return sum(n for reason, n in self.quarantined_by_reason.items() if reason not in c.WARNING_REASONS)


def later_duplicates(conn: psycopg.Connection, table: sql.Identifier, id_column: str) -> list[Duplicate]:
    """Good lines whose id an earlier good line (by file, then line) already has.

    Two steps: the ids listed more than once (one hash aggregate over the day), and only
    if there are any, their lines in order. One serial hash aggregate: on a freshly
    written table the planner has no statistics, guesses a few hundred ids, and its
    parallel plan sorts a million ids instead (measured 2.2 s against 1.0 s)."""
    with conn.transaction():
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        repeated = [row[0] for row in conn.execute(sql.SQL(
            "SELECT {id} FROM {staging} GROUP BY {id} HAVING count(*) > 1").format(
                id=sql.Identifier(id_column), staging=table)).fetchall()]
    if not repeated:
        return []
    query = sql.SQL("""
        SELECT source_file, source_line, id, first_file, first_line, ctid::text FROM (
            SELECT ctid, source_file, source_line, {id} AS id,
                   first_value(source_file) OVER w AS first_file,
                   first_value(source_line) OVER w AS first_line,
                   row_number() OVER w AS occurrence
            FROM {staging}
            WHERE {id} = ANY(%s)
            WINDOW w AS (PARTITION BY {id} ORDER BY source_file COLLATE "C", source_line)) ranked
        WHERE occurrence > 1
        ORDER BY source_file COLLATE "C", source_line""").format(id=sql.Identifier(id_column), staging=table)
    return [Duplicate(*row) for row in conn.execute(query, (repeated,)).fetchall()]


def _duplicate_rows(duplicates: list[Duplicate], files: dict[str, LandingFile],
                    dataset: Dataset) -> Iterator[tuple]:
    for source_file, group in groupby(duplicates, key=lambda d: d.source_file):
        by_line = {d.line_number: d for d in group}
        file = files[source_file]
        picked = pick_rows(file, by_line, dataset) if file.parquet else pick_lines(file, by_line)
        for number, text in picked:
            d = by_line[number]
            detail = c.DUPLICATE_DETAIL.format(label=dataset.id_column, value=d.id,
                                               first_file=d.first_file, first_line=d.first_line)
            yield 0, source_file, number, dataset.duplicate_reason, detail, text.replace("\x00", "\ufffd")


def _settle(conn: psycopg.Connection, tables: StagingTables, attempts: list[int], files: list[LandingFile],
            dataset: Dataset) -> list[Duplicate]:
    """Leaves in the good table only rows to publish and in the bad table every line to
    quarantine: drops rows of superseded attempts, moves later duplicates over."""
    good, bad = tables.identifier(tables.good), tables.identifier(tables.bad)
    # a million ids hashed in memory rather than in batches spilled to disk
    conn.execute("SET work_mem = '256MB'")
    committed = [row[0] for row in conn.execute(
        sql.SQL("SELECT write_attempt FROM {}").format(tables.identifier(tables.attempts))).fetchall()]
    superseded = sorted(set(committed) - set(attempts))
    if superseded:
        log.warning("removing rows of superseded task attempts %s", superseded)
        for table in (good, bad):
            conn.execute(sql.SQL("DELETE FROM {} WHERE write_attempt = ANY(%s)").format(table), (superseded,))
    duplicates = later_duplicates(conn, good, dataset.id_column)
    if duplicates:
        conn.execute(sql.SQL("DELETE FROM {} WHERE ctid = ANY(%s::tid[])").format(good), ([d.row for d in duplicates],))
        by_name = {f.relative: f for f in files}
        with conn.cursor().copy(sql.SQL("COPY {} (write_attempt, {}) FROM STDIN").format(
                bad, sql.SQL(", ").join(map(sql.Identifier, LINE_COLUMNS)))) as copy:
            for row in _duplicate_rows(duplicates, by_name, dataset):
                copy.write_row(row)
    return duplicates


def _insert_quarantine(conn: psycopg.Connection, tables: StagingTables, dataset: Dataset,
                       scan_day: date | None, version: int | None) -> None:
    conn.execute(sql.SQL("""
        INSERT INTO warehouse.quarantine
            (scan_day, dataset, watchlist_version, source_file, line_number, raw_text, reason, detail)
        SELECT %(day)s::date, %(dataset)s, %(version)s::integer, source_file, line_number, coalesce(raw_text, ''),
               reason, detail
        FROM {bad}""").format(bad=tables.identifier(tables.bad)),
        {"day": scan_day, "dataset": dataset.name, "version": version})


def _quarantined_by_reason(conn: psycopg.Connection, condition: sql.Composable, params: dict) -> dict[str, int]:
    query = sql.SQL("SELECT reason, count(*) FROM warehouse.quarantine WHERE {} GROUP BY reason ORDER BY reason")
    return dict(conn.execute(query.format(condition), params).fetchall())


def day_partitions(conn: psycopg.Connection, scan_day: date) -> list[str]:
    """The qualified names of warehouse.passengers' partitions for `scan_day`."""
    return [row[0] for row in conn.execute("""
        SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'warehouse.passengers'::regclass
          AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%%L)', %s::date)""", (scan_day,)).fetchall()]


def _prepare_partition(conn: psycopg.Connection, tables: StagingTables) -> None:
    """The good table in the exact shape of a passengers partition, with the key index
    (the CHECK that lets ATTACH skip scanning it came with the table: staging.py); built
    before the publish lock."""
    good = tables.identifier(tables.good)
    conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN write_attempt").format(good))
    conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (scan_day, scan_id)").format(
        good, sql.Identifier(f"{tables.good}_pkey")))


def _insert_rejected(conn: psycopg.Connection, scan_day: date, rejected: Sequence[RejectedEntry]) -> None:
    """File-level entries: line 0 and no raw text, as their content is never read."""
    with conn.cursor() as cursor:
        cursor.executemany("""
            INSERT INTO warehouse.quarantine (scan_day, dataset, source_file, line_number, raw_text, reason, detail)
            VALUES (%s, 'passengers', %s, 0, '', %s, %s)""",
            [(scan_day, entry.relative, entry.reason, entry.detail) for entry in rejected])


def publish_day(conninfo: str, scan_day: date, dataset: Dataset, tables: StagingTables, attempts: list[int],
                files: list[LandingFile], watchlist_version: int,
                rejected: Sequence[RejectedEntry] = ()) -> tuple[Published, list[Duplicate]]:
    """Replace the day's passengers and passenger quarantine (with the day folder's
    `rejected` entries), and upsert its day_runs counts."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        started = time.monotonic()
        duplicates = _settle(conn, tables, attempts, files, dataset)
        settled = time.monotonic()
        _prepare_partition(conn, tables)
        indexed = time.monotonic()
        inserted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(tables.identifier(tables.good))).fetchone()[0]
        counted = time.monotonic()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_DAY_LOCK, scan_day.toordinal()))
            # Dropping a partition needs ACCESS EXCLUSIVE on the parent: taken first, so two
            # days publishing at once queue here instead of deadlocking on a lock upgrade.
            # Held for milliseconds: everything slow happened above.
            conn.execute("LOCK TABLE warehouse.passengers IN ACCESS EXCLUSIVE MODE")
            for old in day_partitions(conn, scan_day):
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.SQL(old)))
            conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA warehouse").format(tables.identifier(tables.good)))
            conn.execute(sql.SQL("ALTER TABLE warehouse.passengers ATTACH PARTITION {} FOR VALUES IN ({})").format(
                sql.Identifier("warehouse", tables.good), sql.Literal(scan_day)))
            conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(
                sql.Identifier("warehouse", tables.good)))
            params = {"day": scan_day}
            conn.execute("DELETE FROM warehouse.quarantine WHERE dataset = 'passengers' AND scan_day = %(day)s", params)
            _insert_quarantine(conn, tables, dataset, scan_day, None)
            if rejected:
                _insert_rejected(conn, scan_day, rejected)
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
                 "quarantined": Published(inserted, by_reason).quarantined, "by_reason": Jsonb(by_reason)})
    log.info("%s: duplicates settled in %.1f s, partition indexed in %.1f s, counted in %.1f s, swapped in %.1f s",
             scan_day, settled - started, indexed - settled, counted - indexed, time.monotonic() - counted)
    return Published(inserted, by_reason), duplicates


def _version_of(conn: psycopg.Connection, content_hash: str) -> int | None:
    row = conn.execute("SELECT version_id FROM warehouse.watchlist_versions WHERE content_hash = %s",
                       (content_hash,)).fetchone()
    return row[0] if row else None


def known_watchlist_version(conninfo: str, content_hash: str) -> int | None:
    with psycopg.connect(conninfo) as conn:
        return _version_of(conn, content_hash)


def publish_watchlist(conninfo: str, content_hash: str, dataset: Dataset, tables: StagingTables,
                      attempts: list[int], file: LandingFile) -> tuple[int, Published | None]:
    """A new watchlist version; (its id, counts), or (the id, None) when another run
    published the same content first."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _settle(conn, tables, attempts, [file], dataset)
        with conn.transaction():
            row = conn.execute("""
                INSERT INTO warehouse.watchlist_versions (content_hash, source_file, row_count, quarantined)
                VALUES (%s, %s, 0, 0) ON CONFLICT (content_hash) DO NOTHING RETURNING version_id""",
                (content_hash, file.relative)).fetchone()
            if row is None:
                return _version_of(conn, content_hash), None
            version = row[0]
            targets = ["version_id", *dataset.staged, "source_line"]
            types = dict(conn.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                                      "WHERE attrelid = 'warehouse.watchlist'::regclass AND attnum > 0").fetchall())
            sources = [sql.SQL("CAST({} AS {})").format(sql.Identifier(name), sql.SQL(types[name]))
                       for name in targets[1:]]
            inserted = conn.execute(sql.SQL("INSERT INTO warehouse.watchlist ({}) SELECT %(version)s, {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, targets)), sql.SQL(", ").join(sources),
                tables.identifier(tables.good)), {"version": version}).rowcount
            _insert_quarantine(conn, tables, dataset, None, version)
            by_reason = _quarantined_by_reason(
                conn, sql.SQL("dataset = 'watchlist' AND watchlist_version = %(version)s"), {"version": version})
            conn.execute("UPDATE warehouse.watchlist_versions SET row_count = %s, quarantined = %s WHERE version_id = %s",
                         (inserted, Published(inserted, by_reason).quarantined, version))
    return version, Published(inserted, by_reason)
