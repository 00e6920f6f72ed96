"""Staging tables and the Spark → PostgreSQL write into them.

Each Spark task reads its landing file (lines.py) and finishes its lines (batch_rows.py), or
finishes the rows Spark read from a Parquet file (parquet.py), and streams them into the run's staging tables with binary COPY encoded from Arrow (binary_copy.py): good rows into a table shaped
like the warehouse table, in one COPY per task; bad lines, few, into a quarantine table at
the end. Binary COPY spares PostgreSQL parsing 128 floats of text per row, the costliest
part of a text COPY.

Every row carries the task attempt that wrote it, and each task records its attempt in an
attempts table in the same transaction as its rows. The job collects which attempts
succeeded: rows of a failed or superseded attempt (a retried task may have committed
before failing) are removed at publish, never published, and only when the attempts table
shows such an attempt committed, so the common case costs no scan of a million rows.
"""
from __future__ import annotations

import gc
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import reduce
from typing import Callable, Iterator

import psycopg
import pyarrow as pa
from psycopg import sql
from pyspark import TaskContext
from pyspark.sql import DataFrame

from watchlist_screening.normalise import binary_copy
from watchlist_screening.normalise.batch_rows import LINE_COLUMNS, Finished, finish
from watchlist_screening.normalise.lines import file_line_batches
from watchlist_screening.normalise.records import Dataset

SCHEMA = "staging"
_STATS_SCHEMA = ("write_attempt long, source_file string, reason string, "
                 "lines long, first_line int, last_line int")
_STATS_ARROW_SCHEMA = pa.schema([("write_attempt", pa.int64()), ("source_file", pa.string()),
                                 ("reason", pa.string()), ("lines", pa.int64()),
                                 ("first_line", pa.int32()), ("last_line", pa.int32())])
# Binary COPY needs each value in its column's exact wire type.
_ARROW_TYPES = {"text": pa.string(), "integer": pa.int32(), "bigint": pa.int64(), "real": pa.float32(),
                "date": pa.date32(), "timestamp with time zone": pa.timestamp("us", "UTC"),
                "real[]": pa.list_(pa.float32()), "text[]": pa.list_(pa.string()), "date[]": pa.list_(pa.date32())}


@dataclass(frozen=True)
class StagingTables:
    good: str                # table names inside SCHEMA
    bad: str
    attempts: str            # the task attempts that committed rows
    good_schema: pa.Schema   # what the writer sends, in order (write_attempt first)
    bad_schema: pa.Schema

    def identifier(self, name: str) -> sql.Identifier:
        return sql.Identifier(SCHEMA, name)


@dataclass(frozen=True)
class FileStats:
    source_file: str
    reason: str | None
    lines: int
    first_line: int
    last_line: int


def _arrow_schema(conn: psycopg.Connection, table: sql.Identifier, columns: list[str]) -> pa.Schema:
    types = dict(conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (table.as_string(conn),)).fetchall())
    return pa.schema([(name, _ARROW_TYPES[types[name]]) for name in columns])


def create_staging_tables(conn: psycopg.Connection, prefix: str, target: str, dataset: Dataset,
                          scan_day: date | None = None) -> StagingTables:
    """The run's own tables: good rows typed as in the warehouse table `target` (so staging
    can never drift from it) plus write_attempt; bad lines. With a scan day the good table
    is LOGGED and can become the day's partition of `target` as it is (publish.py)."""
    run = uuid.uuid4().hex[:12]
    good, bad, attempts = f"{prefix}_{run}", f"{prefix}_{run}_bad", f"{prefix}_{run}_attempts"
    ident = sql.Identifier(SCHEMA, good)
    sent = ["write_attempt", "source_file", "source_line", *dataset.staged]
    conn.execute(sql.SQL("CREATE {} TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
        sql.SQL("" if scan_day else "UNLOGGED"), ident, sql.SQL(target)))
    conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN write_attempt bigint NOT NULL").format(ident))
    # Autovacuum would analyse the table as soon as COPY has filled it and hold a lock that
    # publish's ALTERs then wait out (deadlock_timeout, 1 s each, measured); publish turns
    # it back on when the table becomes a partition.
    conn.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(ident))
    # duplicates are found by file and line (the watchlist keeps only the line)
    conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS source_file text NOT NULL").format(ident))
    if scan_day:
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN scan_day SET DEFAULT {}").format(ident, sql.Literal(scan_day)))
        # The CHECK that lets ATTACH PARTITION skip scanning the table: checked row by row
        # as COPY writes, instead of by one more pass over a million rows at publish.
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (scan_day = {})").format(
            ident, sql.Identifier(f"{good}_day"), sql.Literal(scan_day)))
    for name, type_name, not_null in conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (ident.as_string(conn),)).fetchall():
        if type_name == "jsonb":   # the writer sends text; publish casts
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE text").format(ident, sql.Identifier(name)))
        if not_null and name not in sent and name != "scan_day":   # filled in at publish
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(ident, sql.Identifier(name)))
    conn.execute(sql.SQL("""CREATE UNLOGGED TABLE {} (write_attempt bigint NOT NULL, source_file text NOT NULL,
        line_number integer NOT NULL, reason text NOT NULL, detail text NOT NULL, raw_text text)""").format(
        sql.Identifier(SCHEMA, bad)))
    conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (write_attempt bigint PRIMARY KEY)").format(
        sql.Identifier(SCHEMA, attempts)))
    return StagingTables(good, bad, attempts, _arrow_schema(conn, ident, sent),
                         _arrow_schema(conn, sql.Identifier(SCHEMA, bad), ["write_attempt", *LINE_COLUMNS]))


def drop_staging_tables(conn: psycopg.Connection, tables: StagingTables) -> None:
    """Drops what is still in staging (a published day's table has moved to warehouse)."""
    for name in (tables.good, tables.bad, tables.attempts):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(tables.identifier(name)))


@contextmanager
def _collector_paused():
    """A batch decodes into ~1.3 million Python objects (a list of 128 floats per line) that
    live only until the batch is in Arrow: the cyclic collector would walk them again and
    again as they pile up (a quarter of the finishing time, measured) and find nothing, as
    none of them forms a cycle. Reference counting still frees them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _sources(batches: Iterator[pa.RecordBatch]) -> Iterator[dict]:
    for batch in batches:
        yield from batch.to_pylist()


def _with_attempt(rows: pa.Table, schema: pa.Schema, attempt: int) -> pa.Table:
    rows = rows.add_column(0, "write_attempt", pa.repeat(pa.scalar(attempt, pa.int64()), rows.num_rows))
    return rows.select(schema.names).cast(schema)


def _copy_statement(tables: StagingTables, table: str, schema: pa.Schema) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        tables.identifier(table), sql.SQL(", ").join(map(sql.Identifier, schema.names)))


# A task's input batches → (source_file, its Finished batch), in the Python worker.
Finishing = Callable[[Iterator[pa.RecordBatch]], Iterator[tuple[str, Finished]]]


def finished_lines(dataset: Dataset) -> Finishing:
    """Line files: each input row names a file (or part) that the task reads itself."""
    def finished(sources: Iterator[pa.RecordBatch]) -> Iterator[tuple[str, Finished]]:
        for source in _sources(sources):
            for batch in file_line_batches(source):
                yield source["source_file"], finish(batch, dataset)

    return finished


def _copy_partition(conninfo: str, tables: StagingTables, finishing: Finishing):
    def write(sources: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        attempt = TaskContext.get().taskAttemptId()
        stats: dict[tuple[str, str | None], list[int]] = {}
        files: set[str] = set()
        bad: list[pa.Table] = []
        try:
            with psycopg.connect(conninfo) as conn, _collector_paused():   # commits on leaving
                with conn.cursor().copy(_copy_statement(tables, tables.good, tables.good_schema)) as copy:
                    copy.write(binary_copy.HEADER)
                    for source_file, finished in finishing(sources):
                        files.add(source_file)
                        if finished.good.num_rows:
                            copy.write(binary_copy.encode_rows(
                                _with_attempt(finished.good, tables.good_schema, attempt)))
                        if finished.bad.num_rows:
                            bad.append(_with_attempt(finished.bad, tables.bad_schema, attempt))
                        if finished.warnings.num_rows:   # quarantine rows, not lines: not counted
                            bad.append(_with_attempt(finished.warnings, tables.bad_schema, attempt))
                        _count(finished, stats)
                    copy.write(binary_copy.TRAILER)
                if bad:
                    with conn.cursor().copy(_copy_statement(tables, tables.bad, tables.bad_schema)) as copy:
                        copy.write(binary_copy.encode(pa.concat_tables(bad)))
                conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(tables.identifier(tables.attempts)), (attempt,))
        except psycopg.Error as error:
            raise RuntimeError(f"staging lines of {', '.join(sorted(files))} into {tables.good} failed: {error}") from error
        yield pa.RecordBatch.from_pylist(
            [{"write_attempt": attempt, "source_file": file, "reason": reason,
              "lines": n, "first_line": first, "last_line": last}
             for (file, reason), (n, first, last) in stats.items()], schema=_STATS_ARROW_SCHEMA)

    return write


def _count(finished, stats: dict[tuple[str, str | None], list[int]]) -> None:
    good = finished.good.select(["source_file", "source_line"]).rename_columns(["source_file", "line_number"])
    lines = pa.concat_tables([good.append_column("reason", pa.nulls(good.num_rows, pa.string())),
                              finished.bad.select(["source_file", "line_number", "reason"])])
    grouped = lines.group_by(["source_file", "reason"]).aggregate(
        [("line_number", "count"), ("line_number", "min"), ("line_number", "max")])
    for row in grouped.to_pylist():
        key = (row["source_file"], row["reason"])
        n, first, last = row["line_number_count"], row["line_number_min"], row["line_number_max"]
        if key in stats:
            seen = stats[key]
            stats[key] = [seen[0] + n, min(seen[1], first), max(seen[2], last)]
        else:
            stats[key] = [n, first, last]


def staged_frame(frame: DataFrame, finishing: Finishing, conninfo: str, tables: StagingTables) -> DataFrame:
    """The Spark work that finishes `frame`'s batches (`finishing`) and COPYs them into
    `tables`: one row of line statistics per (task, file, reason)."""
    return frame.mapInArrow(_copy_partition(conninfo, tables, finishing), _STATS_SCHEMA)


def collect_staged(frames: list[DataFrame]) -> tuple[list[int], list[FileStats]]:
    """Runs the staged_frames as one Spark job; returns the task attempts whose rows count
    and the line statistics per (file, reason) they wrote."""
    rows = reduce(DataFrame.unionAll, frames).collect()
    attempts = sorted({row.write_attempt for row in rows})
    return attempts, [FileStats(r.source_file, r.reason, r.lines, r.first_line, r.last_line) for r in rows]


def write_to_staging(sources: DataFrame, dataset: Dataset, conninfo: str,
                     tables: StagingTables) -> tuple[list[int], list[FileStats]]:
    """Read, finish and COPY the lines of the files in `sources` (lines.file_sources) into
    `tables` (collect_staged)."""
    return collect_staged([staged_frame(sources, finished_lines(dataset), conninfo, tables)])


