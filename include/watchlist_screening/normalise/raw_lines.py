"""The raw lines of a landing file, numbered from 1, split on \\n, \\r\\n and \\r (as
Spark's and most JSONL readers split them).

The job's Spark tasks read their file with `line_blocks` (lines.py); a .jsonl.gz that
is cut short or corrupt keeps the lines before the damage and ends with one record that
says what happened, instead of failing the day. The driver reads the text of the few
lines the warehouse finds to be duplicates with `pick_lines`.
"""
from __future__ import annotations

import gzip
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.landing import LandingFile, open_landing_file

CHUNK = 1 << 20
_TERMINATOR = re.compile(rb"\r\n|\r|\n")


class LineSplitter:
    """Cuts a byte stream into lines; the unterminated rest stays in `pending`."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self.pending + chunk
        if b"\r" not in data:   # the usual file: bytes.split is ~20x faster than the regex
            lines = data.split(b"\n")
            self.pending = lines.pop()
            return lines
        # A final \r may be the first half of \r\n: wait for the next chunk.
        cut = len(data) - 1 if data.endswith(b"\r") else len(data)
        lines = _TERMINATOR.split(data[:cut])
        self.pending = lines.pop() + data[cut:]
        return lines

    def finish(self) -> list[bytes]:
        """The last line of a complete stream, which need not end with a terminator."""
        last, self.pending = self.pending, b""
        if not last:
            return []
        return [last[:-1] if last.endswith(b"\r") else last]


@contextmanager
def _open(file: LandingFile) -> Iterator[BinaryIO]:
    """The file's bytes (decompressed for .gz), never read through a link (landing.py)."""
    with open_landing_file(file) as raw:
        if file.gzipped:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield stream
        else:
            yield raw


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    # read1, not read: a gzip read that fails part-way drops what it had decoded.
    return iter(lambda: stream.read1(CHUNK), b"")


def pick_lines(file: LandingFile, wanted: Iterable[int]) -> Iterator[tuple[int, str]]:
    """The text of the wanted line numbers, read in one pass. Chunks that end no wanted
    line are only counted, not split: a few duplicates in a day of a million lines cost a
    read of the files, not a Python object per line."""
    todo = sorted(set(wanted), reverse=True)   # the next wanted number last
    splitter = LineSplitter()
    number = 0
    with _open(file) as stream:
        for chunk in _chunks(stream):
            if not todo:
                return
            if b"\r" not in chunk and b"\r" not in splitter.pending:
                ended = chunk.count(b"\n")   # lines ending in this chunk, the pending one first
                if number + ended < todo[-1]:
                    number += ended
                    splitter.pending = chunk[chunk.rfind(b"\n") + 1:] if ended else splitter.pending + chunk
                    continue
            for line in splitter.feed(chunk):
                number += 1
                if todo and number == todo[-1]:
                    todo.pop()
                    yield number, line.decode("utf-8", errors="replace")
    for line in splitter.finish():
        if todo and number + 1 == todo[-1]:
            yield number + 1, line.decode("utf-8", errors="replace")


# Damage, not trouble reading the file (a PermissionError is no data problem: it fails the run).
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


@dataclass(frozen=True)
class LineBlock:
    """Consecutive lines of a file, the first numbered `first` (a chunk's worth: no
    object per line on the way to Arrow), or the one record of a damaged .gz's rest."""
    first: int
    lines: list[bytes]
    reason: str | None = None
    detail: str | None = None


def _range_chunks(stream: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    stream.seek(start)
    left = end - start
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def line_blocks(file: LandingFile, part: "FilePart | None" = None) -> Iterator[LineBlock]:
    """Every line of `file` (or of one part of it, numbered from the part's first line),
    streamed in blocks. For a .jsonl.gz that cannot be read to its end, the complete lines
    before the damage, then one record with the cut line's bytes and the reason
    (truncated_gzip or corrupt_gzip)."""
    splitter = LineSplitter()
    number = part.first_line - 1 if part else 0
    try:
        with _open(file) as stream:
            for chunk in (_range_chunks(stream, part.start, part.end) if part else _chunks(stream)):
                lines = splitter.feed(chunk)
                if lines:
                    yield LineBlock(number + 1, lines)
                    number += len(lines)
    except _GZIP_ERRORS as error:
        if not file.gzipped:
            raise
        if isinstance(error, EOFError):
            reason, detail = c.TRUNCATED_GZIP, c.TRUNCATED_GZIP_DETAIL.format(lines=number)
        else:
            reason, detail = c.CORRUPT_GZIP, c.CORRUPT_GZIP_DETAIL.format(lines=number, error=error)
        yield LineBlock(number + 1, [splitter.pending], reason, detail)
        return
    last = splitter.finish()
    if last:
        yield LineBlock(number + 1, last)


@dataclass(frozen=True)
class FilePart:
    """Bytes [start, end) of a plain landing file, cut just after a \\n, whose first line
    is line `first_line` of the file."""
    start: int
    end: int
    first_line: int


def _line_end_after(stream: BinaryIO, position: int) -> int | None:
    """The offset just after the first \\n at or after `position`; None if there is none."""
    stream.seek(position)
    while chunk := stream.read(1 << 16):
        found = chunk.find(b"\n")
        if found != -1:
            return position + found + 1
        position += len(chunk)
    return None


def file_parts(file: LandingFile, part_bytes: int) -> list[FilePart] | None:
    """A big plain file cut into parts of about `part_bytes` at line ends, so that its
    lines are read by several tasks and still numbered as in the whole file; None when
    the file is read whole: small, gzipped (not splittable), or using \\r line ends
    (counting those across cuts is not worth it for a file nobody writes). Costs one
    read of the file to count its lines."""
    if file.gzipped or file.size <= part_bytes:
        return None
    cuts = [0]
    with open_landing_file(file) as stream:
        while cuts[-1] + part_bytes < file.size:
            cut = _line_end_after(stream, cuts[-1] + part_bytes - 1)
            if cut is None or cut >= file.size:
                break
            cuts.append(cut)
        cuts.append(file.size)
        parts, first = [], 1
        for start, end in zip(cuts, cuts[1:]):
            parts.append(FilePart(start, end, first))
            for chunk in _range_chunks(stream, start, end):
                if b"\r" in chunk:
                    return None
                first += chunk.count(b"\n")
    return parts
