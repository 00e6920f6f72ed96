"""Staging tables and the Spark → PostgreSQL write into them.

Each Spark task finishes its records (finish.py) and streams them into the run's staging
table with COPY (CSV written by pyarrow from the task's Arrow batches), several times
faster than JDBC inserts.
Every row carries the task attempt that wrote it and the job collects which attempts
succeeded: rows of a failed or superseded attempt (a retried task may have committed
before failing) stay in staging but are never published.
"""
from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Iterator

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from pyspark import TaskContext
from pyspark.sql import DataFrame

from watchlist_screening.normalise.finish import finish
from watchlist_screening.normalise.records import Dataset

SCHEMA = "staging"
LINE_COLUMNS = ("source_file", "line_number", "reason", "detail", "raw_text")
_STATS_SCHEMA = ("write_attempt long, source_file string, reason string, "
                 "lines long, first_line int, last_line int")
_STATS_ARROW_SCHEMA = pa.schema([("write_attempt", pa.int64()), ("source_file", pa.string()),
                                 ("reason", pa.string()), ("lines", pa.int64()),
                                 ("first_line", pa.int32()), ("last_line", pa.int32())])


@dataclass(frozen=True)
class StagingTable:
    name: str                  # unquoted table name inside SCHEMA
    columns: tuple[str, ...]   # in COPY order, after write_attempt

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(SCHEMA, self.name)


@dataclass(frozen=True)
class FileStats:
    source_file: str
    reason: str | None
    lines: int
    first_line: int
    last_line: int


def create_staging_table(conn: psycopg.Connection, prefix: str, target: str, columns: list[str]) -> StagingTable:
    """An UNLOGGED table, unique to this run, for the line columns and `columns` typed as
    in the warehouse table `target` (so staging can never drift from it)."""
    types = dict(conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (target,)).fetchall())
    table = StagingTable(f"{prefix}_{uuid.uuid4().hex[:12]}", (*LINE_COLUMNS, *columns))
    definitions = [sql.SQL("write_attempt bigint NOT NULL"), sql.SQL("source_file text NOT NULL"),
                   sql.SQL("line_number integer NOT NULL"), sql.SQL("reason text"), sql.SQL("detail text"),
                   sql.SQL("raw_text text")]
    definitions += [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(types[name])) for name in columns]
    conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(table.identifier, sql.SQL(", ").join(definitions)))
    return table


def drop_staging_table(conn: psycopg.Connection, table: StagingTable) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table.identifier))


def _csv_ready(batch: pa.RecordBatch, attempt: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.repeat(pa.scalar(attempt, pa.int64()), batch.num_rows), *batch.columns],
                                      names=["write_attempt", *batch.schema.names])


def _copy_partition(conninfo: str, table: StagingTable, dataset: Dataset):
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table.identifier, sql.SQL(", ").join(map(sql.Identifier, ("write_attempt", *table.columns))))

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        options = pacsv.WriteOptions(include_header=False)   # not picklable: made on the worker
        attempt = TaskContext.get().taskAttemptId()
        stats: dict[tuple[str, str | None], list[int]] = {}
        files: set[str] = set()
        try:
            with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
                with cursor.copy(statement) as copy:
                    for batch in batches:
                        if batch.num_rows == 0:
                            continue
                        files.update(batch.column("source_file").unique().to_pylist())
                        finished = finish(batch, dataset)
                        sink = io.BytesIO()
                        pacsv.write_csv(_csv_ready(finished, attempt), sink, options)
                        copy.write(sink.getbuffer())
                        _count(finished, stats)
        except psycopg.Error as error:
            raise RuntimeError(f"staging lines of {', '.join(sorted(files))} into {table.name} failed: {error}") from error
        yield pa.RecordBatch.from_pylist(
            [{"write_attempt": attempt, "source_file": file, "reason": reason,
              "lines": n, "first_line": first, "last_line": last}
             for (file, reason), (n, first, last) in stats.items()], schema=_STATS_ARROW_SCHEMA)

    return write


def _count(batch: pa.RecordBatch, stats: dict[tuple[str, str | None], list[int]]) -> None:
    grouped = pa.Table.from_batches([batch]).group_by(["source_file", "reason"]).aggregate(
        [("line_number", "count"), ("line_number", "min"), ("line_number", "max")])
    for row in grouped.to_pylist():
        key = (row["source_file"], row["reason"])
        n, first, last = row["line_number_count"], row["line_number_min"], row["line_number_max"]
        if key in stats:
            seen = stats[key]
            stats[key] = [seen[0] + n, min(seen[1], first), max(seen[2], last)]
        else:
            stats[key] = [n, first, last]


def write_to_staging(records: DataFrame, dataset: Dataset, conninfo: str,
                     table: StagingTable) -> tuple[list[int], list[FileStats]]:
    """Finish `records` (records.checked_records) and COPY them into `table`; returns the
    task attempts whose rows count and the line statistics per (file, reason) they wrote."""
    rows = records.mapInArrow(_copy_partition(conninfo, table, dataset), _STATS_SCHEMA).collect()
    attempts = sorted({row.write_attempt for row in rows})
    return attempts, [FileStats(r.source_file, r.reason, r.lines, r.first_line, r.last_line) for r in rows]
