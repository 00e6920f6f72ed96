"""Parquet landing files (`passengers/<day>/<AIRPORT>.parquet`): rows in typed columns,
read by Spark's own columnar reader, checked column by column (columns.py), and staged by
the same writer as lines (staging.py), so quarantine, duplicates and summaries are the
JSONL path's. A row's number (from 1, Spark's `_metadata.row_index` + 1) stands for the
line number.

The driver reads each file's footer first (the file opened as landing.py opens files:
never through a link, the very file that was listed): a file without a readable footer
(truncated, not Parquet) or with columns Spark cannot read is a file-level quarantine
entry (bad_parquet) and is not read. The footer also gives the row count the job holds
the staged rows against. Spark opens the file by its path again: the task checks the
path is still the listed file (device and inode) before its rows count, which narrows
but does not close the window a swapped file would have.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession, functions as F

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.columns import check_columns, json_records, json_text, misplaced, record_problem
from watchlist_screening.normalise.batch_rows import Finished, file_place, quarantine_rows, staged_rows
from watchlist_screening.normalise.landing import LandingChanged, LandingFile, RejectedEntry, open_landing_file
from watchlist_screening.normalise.records import Dataset
from watchlist_screening.normalise.staging import Finishing, StagingTables, staged_frame

ROW_INDEX = "_row_index"


@dataclass(frozen=True)
class ParquetFile:
    file: LandingFile
    rows: int                        # as the footer says: what must be staged
    columns: tuple[str, ...]         # the contract's fields the file has (exact names)
    nanos: frozenset[str]            # TIMESTAMP(NANOS) columns, which Spark hands over as int64


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def rejected(file: LandingFile, error: BaseException | str) -> RejectedEntry:
    cause = error if isinstance(error, str) else _first_line(error)
    return RejectedEntry(file.relative, c.BAD_PARQUET, c.BAD_PARQUET_DETAIL.format(error=cause))


def inspect(file: LandingFile, dataset: Dataset) -> ParquetFile | RejectedEntry:
    """The file's footer: what to read, or why the file is not read."""
    try:
        with open_landing_file(file) as stream:
            footer = pq.ParquetFile(stream)
            schema, rows = footer.schema_arrow, footer.metadata.num_rows
    except LandingChanged:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:   # truncated, not Parquet, damaged footer
        return rejected(file, error)
    names = tuple(f.name for f in dataset.fields if schema.get_field_index(f.name) >= 0)
    nanos = frozenset(n for n in names if pa.types.is_timestamp(schema.field(n).type)
                      and schema.field(n).type.unit == "ns" and schema.field(n).type.tz is not None)
    return ParquetFile(file, rows, names, nanos)


def _rows_of(mask: np.ndarray) -> pa.Array | None:
    """The rows a mask keeps, or None when it keeps every row: a typed file's batches are
    nearly always all good, and taking all of a batch copies its 128-float lists for nothing."""
    return None if mask.all() else pa.array(np.flatnonzero(mask), pa.int64())


def _taken(column: pa.Array, rows: pa.Array | None) -> pa.Array:
    return column if rows is None else column.take(rows)


def finish_rows(batch: pa.RecordBatch, source_file: str, dataset: Dataset,
                nanos: frozenset[str] = frozenset()) -> Finished:
    """A batch of a file's rows (contract columns and ROW_INDEX) as good rows and
    quarantine rows; every row lands in exactly one of the two."""
    day, airport = file_place(source_file) if dataset.placed else (None, None)
    numbers = pc.add(batch.column(ROW_INDEX), 1)
    checked = check_columns(batch, dataset.fields, nanos)
    good, vectors = checked.good, checked.vectors
    if dataset.placed and good.any():
        wrong = misplaced(checked.columns, day, airport) & good
        if wrong.any():   # rare: those rows are named below, with the others
            vectors = vectors[~wrong[good]]
            good = good & ~wrong
    kept = _rows_of(good)
    staged = staged_rows(pa.repeat(pa.scalar(source_file), int(good.sum())), _taken(numbers, kept),
                         {name: _taken(column, kept) for name, column in checked.columns.items()}, vectors,
                         dataset, [])
    bad = np.flatnonzero(~good)
    records = json_records(batch, bad, dataset.fields, nanos)
    problems = []
    for record in records:
        problem = record_problem(record, dataset.fields, day, airport)
        problems.append((problem.reason, problem.detail) if problem
                        else (c.CHECK_DISAGREEMENT, c.CHECK_DISAGREEMENT_ROW_DETAIL))
    return Finished(staged, quarantine_rows(pa.repeat(pa.scalar(source_file), len(bad)),
                                            numbers.take(pa.array(bad, pa.int64())), problems,
                                            [json_text(r) for r in records]))


def _check_identity(file: LandingFile) -> None:
    found = os.lstat(file.path)
    if file.identity is not None and (found.st_dev, found.st_ino) != file.identity:
        raise LandingChanged(f"{file.relative} was replaced after the day's folder was listed; re-run the day")


def finished_rows(parquet: ParquetFile, dataset: Dataset) -> Finishing:
    def finished(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[str, Finished]]:
        _check_identity(parquet.file)
        for batch in batches:
            yield parquet.file.relative, finish_rows(batch, parquet.file.relative, dataset, parquet.nanos)

    return finished


def parquet_frame(spark: SparkSession, parquet: ParquetFile, dataset: Dataset, conninfo: str,
                  tables: StagingTables) -> DataFrame:
    """The Spark work that reads, checks and stages one file; raises (AnalysisException)
    on columns Spark cannot read, before anything runs."""
    columns = [F.col(f"`{name}`") for name in parquet.columns]
    frame = spark.read.parquet(str(parquet.file.path)).select(
        *columns, F.col("_metadata.row_index").alias(ROW_INDEX))
    return staged_frame(frame, finished_rows(parquet, dataset), conninfo, tables)


def pick_rows(file: LandingFile, wanted, dataset: Dataset) -> Iterator[tuple[int, str]]:
    """The text (as quarantine rows show it) of the wanted row numbers; only the row
    groups that hold them are read (the driver needs this for a few duplicates)."""
    wanted = sorted(set(wanted))
    with open_landing_file(file) as stream:
        reader = pq.ParquetFile(stream)
        present = [f.name for f in dataset.fields if reader.schema_arrow.get_field_index(f.name) >= 0]
        starts = np.cumsum([0] + [reader.metadata.row_group(i).num_rows for i in range(reader.num_row_groups)])
        group_of = {n: int(np.searchsorted(starts, n - 1, side="right") - 1) for n in wanted}
        groups = sorted(set(group_of.values()))
        table = reader.read_row_groups(groups, columns=present)
    read_from = dict(zip(groups, np.cumsum([0] + [int(starts[g + 1] - starts[g]) for g in groups])))
    rows = np.array([read_from[group_of[n]] + n - 1 - starts[group_of[n]] for n in wanted], np.int64)
    for number, record in zip(wanted, json_records(table, rows, dataset.fields)):
        yield number, json_text(record)
