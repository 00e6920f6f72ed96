"""The lines of landing files as a Spark DataFrame, each with its file and 1-based line
number: (source_file, line_number, raw_text, preset_reason, preset_detail).

Spark's text reader has no line numbers. All files are read by one scan that keeps each
file whole in its own partition (session.py sets the split size beyond any file), so a
line's number is its position in the partition (monotonically_increasing_id keeps it in
its low 33 bits). Reading files whole gives up splitting one big file across cores; a day
spreads over one file per airport, which is where the parallelism is. The writer checks
the numbering of every file it wrote (1..n without gaps), so a change in Spark's file
splitting cannot go unnoticed.

One scan rather than one per file: Spark copies everything computed on top of a union
into each of its branches, so per-file scans would compile the whole normalisation once
per file.
"""
from __future__ import annotations

import re
from functools import reduce
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.landing import LandingFile
from watchlist_screening.normalise.raw_lines import GzipDamage

LINE_SCHEMA = ("source_file string, line_number int, raw_text string, "
               "preset_reason string, preset_detail string")
_POSITION_BITS = (1 << 33) - 1


def _literal_path(file: LandingFile) -> str:
    """The path with Hadoop's glob characters escaped, so `AMS[1].jsonl` is one file."""
    return re.sub(r"([\\*?\[\]{}])", r"\\\1", str(file.path))


def _scan(spark: SparkSession, files: list[LandingFile]) -> DataFrame:
    """One text scan of `files` (all in one folder), with their landing-relative names."""
    text = spark.read.text([_literal_path(f) for f in files])
    # Rows only know their file by Spark's URL-encoded file name: map it back.
    relative_by_path = {str(f.path.resolve()): f.relative for f in files}
    names = []
    for uri in text.inputFiles():
        path = str(Path(unquote(urlparse(uri).path)).resolve())
        if path not in relative_by_path:
            raise RuntimeError(f"Spark reads {uri}, which is not one of the files asked for")
        names.append((uri.rsplit("/", 1)[1], relative_by_path[path]))
    mapping = spark.createDataFrame(names, "file_name string, source_file string")
    position = F.monotonically_increasing_id().bitwiseAND(_POSITION_BITS)
    numbered = text.select(
        F.col("_metadata.file_name").alias("file_name"),
        (position + 1).cast("int").alias("line_number"),
        F.col("value").alias("raw_text"),
    )
    return numbered.join(F.broadcast(mapping), "file_name").select(
        "source_file", "line_number", "raw_text",
        F.lit(None).cast("string").alias("preset_reason"),
        F.lit(None).cast("string").alias("preset_detail"),
    )


def _decoded(line: bytes) -> tuple[str, str | None, str | None]:
    """Text of a recovered line; bytes that are not UTF-8 get the same quarantine
    reason the Spark check gives lines read by Spark."""
    try:
        return line.decode("utf-8"), None, None
    except UnicodeDecodeError:
        return line.decode("utf-8", errors="replace"), c.NOT_UTF8, c.NOT_UTF8_DETAIL


def _recovered_rows(damage: GzipDamage) -> list[tuple]:
    rows = [(damage.file.relative, number, *_decoded(line)) for number, line in enumerate(damage.lines, 1)]
    tail = damage.tail.decode("utf-8", errors="replace")
    rows.append((damage.file.relative, damage.record_line, tail, damage.reason, damage.detail))
    return rows


def read_lines(spark: SparkSession, files: list[LandingFile], damaged: list[GzipDamage]) -> DataFrame:
    """Every line of `files` (all in one folder); for damaged .gz files the lines
    recovered before the damage (read on the driver) plus one preset quarantine record each."""
    damaged_names = {d.file.relative for d in damaged}
    readable = [f for f in files if f.size > 0 and f.relative not in damaged_names]
    recovered = [row for damage in damaged for row in _recovered_rows(damage)]
    parts = [_scan(spark, readable)] if readable else []
    if recovered or not parts:
        parts.append(spark.createDataFrame(recovered, LINE_SCHEMA))
    return reduce(DataFrame.unionByName, parts)
