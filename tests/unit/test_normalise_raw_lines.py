"""Reading landing files: line splitting, gzip damage, the Arrow line batches the tasks
finish, lines read back by number."""
from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.landing import LandingError, day_files, watchlist_file
from watchlist_screening.normalise.lines import line_batch, line_batches
from watchlist_screening.normalise.raw_lines import (
    FilePart, LineBlock, LineSplitter, file_parts, line_blocks, pick_lines,
)


@dataclass(frozen=True)
class NumberedLine:
    number: int
    raw: bytes
    reason: str | None = None
    detail: str | None = None


def numbered_lines(file, part: FilePart | None = None) -> list[NumberedLine]:
    """line_blocks one line at a time."""
    return [NumberedLine(block.first + offset, raw, block.reason, block.detail)
            for block in line_blocks(file, part) for offset, raw in enumerate(block.lines)]


def split(*chunks: bytes) -> list[bytes]:
    splitter = LineSplitter()
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    return lines + splitter.finish()


@pytest.mark.parametrize("chunks, lines", [
    ((b"a\nb\n",), [b"a", b"b"]),
    ((b"a\nb",), [b"a", b"b"]),                       # last line without terminator
    ((b"a\r\nb\rc\n",), [b"a", b"b", b"c"]),          # \r\n and \r, like Hadoop's LineReader
    ((b"a\r", b"\nb"), [b"a", b"b"]),                 # \r\n cut between chunks
    ((b"a\n\nb\n",), [b"a", b"", b"b"]),              # an empty line is a line
    ((b"",), []),
])
def test_lines_split_like_spark(chunks, lines):
    assert split(*chunks) == lines


def _landing(tmp_path: Path, name: str, data: bytes):
    folder = tmp_path / "passengers" / "2026-03-01"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return {f.relative.rsplit("/", 1)[1]: f for f in day_files(tmp_path, date(2026, 3, 1))}[name]


def _payload(n: int) -> bytes:
    rng = random.Random(4)   # incompressible enough that truncation lands mid-stream
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, bytes(rng.choice(b"abcdefgh") for _ in range(200))) for i in range(n))


def test_truncated_gzip_keeps_the_complete_lines(tmp_path):
    data = gzip.compress(_payload(2000))
    file = _landing(tmp_path, "AMS.jsonl.gz", data[: len(data) // 2])
    *kept, damage = numbered_lines(file)
    assert damage.reason == c.TRUNCATED_GZIP and all(line.reason is None for line in kept)
    assert 500 < len(kept) < 1500
    assert [line.raw for line in kept] == _payload(2000).split(b"\n")[: len(kept)]
    assert [line.number for line in kept] == list(range(1, len(kept) + 1)) and damage.number == len(kept) + 1
    assert str(len(kept)) in damage.detail


def test_not_gzip_at_all_is_corrupt(tmp_path):
    file = _landing(tmp_path, "AMS.jsonl.gz", b'{"plain": "json"}\n')
    [damage] = numbered_lines(file)
    assert damage.reason == c.CORRUPT_GZIP and damage.number == 1


def test_intact_and_empty_files_have_no_damage(tmp_path):
    intact = _landing(tmp_path, "AMS.jsonl.gz", gzip.compress(_payload(10)))
    empty = _landing(tmp_path, "CDG.jsonl.gz", b"")
    plain = _landing(tmp_path, "FRA.jsonl", _payload(3))
    assert [line.raw for line in numbered_lines(intact)] == _payload(10).split(b"\n")[:10]
    assert list(numbered_lines(empty)) == []
    assert [(line.number, line.reason) for line in numbered_lines(plain)] == [(1, None), (2, None), (3, None)]


def test_line_batches_carry_text_or_what_the_quarantine_shows():
    blocks = [LineBlock(1, [b'{"a": "\xc3\xa9"}', b'{"a": "\xff"}']), LineBlock(3, [b'{"cut'], c.TRUNCATED_GZIP, "detail")]
    batch = line_batch("f.jsonl.gz", blocks)
    assert batch.column("text").to_pylist() == ['{"a": "é"}', None, None]
    assert batch.column("quarantine_text").to_pylist() == [None, '{"a": "\ufffd"}', '{"cut']
    assert batch.column("preset_reason").to_pylist() == [None, None, c.TRUNCATED_GZIP]
    assert batch.column("preset_detail").to_pylist() == [None, None, "detail"]
    assert batch.column("line_number").to_pylist() == [1, 2, 3]
    clean = line_batch("f.jsonl", [LineBlock(7, [b"{}"])])
    assert clean.column("quarantine_text").null_count == 1 and clean.column("line_number").to_pylist() == [7]
    many = (LineBlock(n, [b"x"] * 4) for n in range(1, 41, 4))   # 10 blocks of 4 lines
    assert [b.num_rows for b in line_batches("f", many, size=10)] == [12, 12, 12, 4]


def test_pick_lines_reads_the_wanted_numbers(tmp_path):
    file = _landing(tmp_path, "AMS.jsonl.gz", gzip.compress(b"one\ntwo\r\nthree\rfour"))
    assert list(pick_lines(file, [2, 4])) == [(2, "two"), (4, "four")]
    many = _landing(tmp_path, "CDG.jsonl", b"".join(b"line %d\n" % n for n in range(1, 300_001)) + b"last")
    assert list(pick_lines(many, [300_001, 7, 150_000])) == [(7, "line 7"), (150_000, "line 150000"),
                                                             (300_001, "last")]
    assert [line.number for line in numbered_lines(file)] == [1, 2, 3, 4]


def test_day_files_take_only_airport_jsonl_and_jsonl_gz(tmp_path):
    folder = tmp_path / "passengers" / "2026-03-01"
    folder.mkdir(parents=True)
    for name in ("CDG.jsonl", "AMS.jsonl.gz", "c.csv", "DDD.jsonl.tmp"):
        (folder / name).write_bytes(b"")
    assert [f.relative for f in day_files(tmp_path, date(2026, 3, 1))] == [
        "passengers/2026-03-01/AMS.jsonl.gz", "passengers/2026-03-01/CDG.jsonl"]
    assert day_files(tmp_path, date(2026, 3, 2)) == []
    with pytest.raises(LandingError, match="watchlist"):
        watchlist_file(tmp_path)


@pytest.mark.parametrize("ending", [b"\n", b""])
def test_a_big_file_cut_into_parts_reads_and_numbers_as_a_whole(tmp_path, ending):
    data = b"\n".join(b'{"n": %d, "pad": "%s"}' % (i, b"x" * (i % 97)) for i in range(1, 3001)) + b"\n\n" + b"last" + ending
    file = _landing(tmp_path, "AMS.jsonl", data)
    parts = file_parts(file, part_bytes=10_000)
    assert parts and len(parts) > 10
    assert parts[0].start == 0 and parts[-1].end == len(data)
    assert all(a.end == b.start and data[a.end - 1:a.end] == b"\n" for a, b in zip(parts, parts[1:]))
    whole = [(line.number, line.raw) for line in numbered_lines(file)]
    pieces = [(line.number, line.raw) for part in parts for line in numbered_lines(file, part)]
    assert pieces == whole and whole[-1] == (3002, b"last")


def test_files_that_are_read_whole(tmp_path):
    assert file_parts(_landing(tmp_path, "AAA.jsonl", b"a\n" * 100), part_bytes=1_000) is None          # small
    assert file_parts(_landing(tmp_path, "BBB.jsonl", b"a\r\n" * 1000), part_bytes=100) is None         # \r ends
    assert file_parts(_landing(tmp_path, "CCC.jsonl.gz", gzip.compress(b"a\n" * 10_000)), part_bytes=10) is None
    assert file_parts(_landing(tmp_path, "DDD.jsonl", b"x" * 5000), part_bytes=100) == [FilePart(0, 5000, 1)]
