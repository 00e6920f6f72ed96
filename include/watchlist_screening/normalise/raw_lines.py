"""Driver-side access to the raw lines of a landing file, split exactly as Spark's text
reader splits them (on \\n, \\r\\n and \\r), so line numbers agree with lines.py.

Used where Spark cannot help: checking .jsonl.gz files for truncation (Spark's reader
fails the whole task on one), keeping the lines before the damage, and fetching the raw
text of the few lines the warehouse finds to be duplicates.
"""
from __future__ import annotations

import gzip
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.landing import LandingFile

CHUNK = 1 << 20
_TERMINATOR = re.compile(rb"\r\n|\r|\n")


class LineSplitter:
    """Cuts a byte stream into lines; the unterminated rest stays in `pending`."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self.pending + chunk
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


def _open(file: LandingFile) -> BinaryIO:
    return gzip.open(file.path, "rb") if file.gzipped else file.path.open("rb")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    # read1, not read: a gzip read that fails part-way drops what it had decoded.
    return iter(lambda: stream.read1(CHUNK), b"")


def iter_lines(file: LandingFile) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line bytes) of a readable file."""
    splitter = LineSplitter()
    number = 0
    with _open(file) as stream:
        for chunk in _chunks(stream):
            for line in splitter.feed(chunk):
                number += 1
                yield number, line
    for line in splitter.finish():
        yield number + 1, line


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


@dataclass(frozen=True)
class GzipDamage:
    """A .jsonl.gz that cannot be read to its end: the lines before the damage are
    kept, the file itself gets one quarantine record after them."""
    file: LandingFile
    lines: list[bytes]
    tail: bytes          # the partial line cut by the damage
    reason: str
    detail: str

    @property
    def record_line(self) -> int:
        return len(self.lines) + 1


# Damage, not trouble reading the file (a PermissionError is no data problem: it fails the run).
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _read_to_end(file: LandingFile) -> None:
    with gzip.open(file.path, "rb") as stream:
        for _ in _chunks(stream):
            pass


def _recover(file: LandingFile, error: Exception) -> GzipDamage:
    splitter = LineSplitter()
    lines: list[bytes] = []
    try:
        with gzip.open(file.path, "rb") as stream:
            for chunk in _chunks(stream):
                lines += splitter.feed(chunk)
    except _GZIP_ERRORS:
        pass
    if isinstance(error, EOFError):
        reason, detail = c.TRUNCATED_GZIP, c.TRUNCATED_GZIP_DETAIL.format(lines=len(lines))
    else:
        reason, detail = c.CORRUPT_GZIP, c.CORRUPT_GZIP_DETAIL.format(lines=len(lines), error=error)
    return GzipDamage(file, lines, splitter.pending, reason, detail)


def gzip_damage(file: LandingFile) -> GzipDamage | None:
    """None when the gzip stream reads to its end (the common case costs one
    decompression and keeps nothing in memory)."""
    try:
        _read_to_end(file)
        return None
    except _GZIP_ERRORS as error:
        return _recover(file, error)


def find_gzip_damage(files: list[LandingFile], workers: int) -> list[GzipDamage]:
    """Checks the .jsonl.gz files in parallel (zlib releases the GIL)."""
    gzipped = [f for f in files if f.gzipped and f.size > 0]
    if not gzipped:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(gzipped)))) as pool:
        return [damage for damage in pool.map(gzip_damage, gzipped) if damage]
