"""Landing files as Spark work, and their lines as the Arrow batches batch_rows.py takes.

The job gives Spark one row per landing file, each in a partition of its own, and each
task reads its file itself (raw_lines.line_blocks) in the Python worker that parses
and checks the lines. Spark used to read the text and hand it over, but every line is
parsed in Python anyway, and carrying 1.4 GB of text from the JVM to the workers cost
about a third of the day's CPU (measured at 1,000,000 passengers). Reading in the task
also numbers lines exactly (a counter, not Spark's row ids) and lets a damaged .jsonl.gz
keep the lines before the damage. A day spreads over one file per airport, which is
where the parallelism is; a file bigger than its share of the cores (a 1M-person
watchlist is one file) is cut at line ends into parts read by several tasks, numbered as
in the whole file. The biggest pieces are scheduled first.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from watchlist_screening.normalise.landing import LandingFile
from watchlist_screening.normalise.raw_lines import FilePart, LineBlock, file_parts, line_blocks

SOURCE_SCHEMA = ("source_file string, path string, bytes long, start long, end long, first_line long, "
                 "identity string")
# Cutting a file costs a read to count its lines: only worth it for a file that would keep
# the other cores waiting.
MIN_PART_BYTES = 64 << 20
BATCH_LINES = 10_000
LINE_BATCH_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("line_number", pa.int32()), ("preset_reason", pa.string()),
    ("preset_detail", pa.string()), ("text", pa.string()), ("quarantine_text", pa.string())])


def file_sources(spark: SparkSession, files: list[LandingFile], min_part_bytes: int = MIN_PART_BYTES) -> DataFrame:
    """One row per non-empty file (an empty file has no line to check) or, for a file
    bigger than its share of the cores, per part of it (raw_lines.file_parts); one
    partition each, the biggest first."""
    readable = [f for f in files if f.size > 0]
    share = sum(f.size for f in readable) / max(spark.sparkContext.defaultParallelism, 1)
    rows = []
    for f in readable:
        parts = None
        if f.size > max(min_part_bytes, share * 1.25):
            parts = file_parts(f, max(min_part_bytes, int(share / 2)))
        # the listed file's device and inode, which the task checks it opens (landing.py)
        identity = "%d:%d" % f.identity if f.identity else None
        if parts:
            rows += [(f.relative, str(f.path), p.end - p.start, p.start, p.end, p.first_line, identity) for p in parts]
        else:
            rows.append((f.relative, str(f.path), f.size, None, None, None, identity))
    rows.sort(key=lambda row: -row[2])
    if not rows:
        return spark.createDataFrame([], SOURCE_SCHEMA)
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, numSlices=len(rows)), SOURCE_SCHEMA)


def _texts(lines: list[bytes]) -> tuple[pa.Array, pa.Array]:
    """(text, quarantine_text): the UTF-8 text of each line, or NULL and its text with
    the undecodable bytes replaced (U+FFFD) for the quarantine. Arrow checks a whole batch
    at once; only a batch with a bad line is decoded line by line."""
    try:
        return pa.array(lines, pa.binary()).cast(pa.string()), pa.nulls(len(lines), pa.string())
    except pa.ArrowInvalid:
        texts, shown = [], []
        for raw in lines:
            try:
                texts.append(raw.decode("utf-8"))
                shown.append(None)
            except UnicodeDecodeError:
                texts.append(None)
                shown.append(raw.decode("utf-8", errors="replace"))
        return pa.array(texts, pa.string()), pa.array(shown, pa.string())


def line_batch(source_file: str, blocks: list[LineBlock]) -> pa.RecordBatch:
    """One Arrow batch of consecutive blocks of a file."""
    lines = [raw for block in blocks for raw in block.lines]
    numbers = np.concatenate([np.arange(b.first, b.first + len(b.lines), dtype=np.int32) for b in blocks])
    reasons = [b.reason for b in blocks for _ in b.lines]
    details = [b.detail for b in blocks for _ in b.lines]
    text, quarantine_text = _texts(lines)
    if any(reasons):
        # A damaged .gz's last record: its problem is known, its bytes are only shown.
        texts, shown = text.to_pylist(), quarantine_text.to_pylist()
        for i, reason in enumerate(reasons):
            if reason:
                texts[i], shown[i] = None, lines[i].decode("utf-8", errors="replace")
        text, quarantine_text = pa.array(texts, pa.string()), pa.array(shown, pa.string())
    return pa.RecordBatch.from_arrays([
        pa.array([source_file] * len(lines), pa.string()), pa.array(numbers),
        pa.array(reasons, pa.string()), pa.array(details, pa.string()),
        text, quarantine_text], schema=LINE_BATCH_SCHEMA)


def line_batches(source_file: str, blocks: Iterable[LineBlock], size: int = BATCH_LINES) -> Iterator[pa.RecordBatch]:
    """Blocks gathered into batches of about `size` lines (a block is never split)."""
    pending: list[LineBlock] = []
    lines = 0
    for block in blocks:
        pending.append(block)
        lines += len(block.lines)
        if lines >= size:
            yield line_batch(source_file, pending)
            pending, lines = [], 0
    if pending:
        yield line_batch(source_file, pending)


def file_line_batches(source: dict, size: int = BATCH_LINES) -> Iterator[pa.RecordBatch]:
    """The lines of one file_sources row as line batches, read where the task runs."""
    path = Path(source["path"])
    identity = tuple(int(n) for n in source["identity"].split(":")) if source.get("identity") else None
    file = LandingFile(source["source_file"], path, source["bytes"], identity)
    part = FilePart(source["start"], source["end"], source["first_line"]) if source["start"] is not None else None
    return line_batches(source["source_file"], line_blocks(file, part), size)
