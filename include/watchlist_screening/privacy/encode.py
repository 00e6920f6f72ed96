"""The edge encoder: a clear landing directory (the contract's layout) in, the encoded
landing zone (docs/encoded-contract/) out.

    python -m watchlist_screening.privacy.encode --secret-file F --landing-dir SRC --out-dir DST [--date D ...]

A bad clear line never stops a file: it is counted and reported with file:line, reason
and detail (the clear pipeline's quarantine reasons), and the rest is encoded. A Parquet
day file is read row by row (the row number stands for the line number, as in the clear
pipeline) and written as <AIRPORT>.jsonl. The report
goes to the owner running the encoder (stdout/stderr), never into the encoded landing:
its details quote clear values. Each output file is written beside its final name and
renamed into place, so a pipeline watching DST never reads half a file.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import partial
from pathlib import Path

from watchlist_screening.normalise import contract
from watchlist_screening.normalise.landing import (LandingError, LandingFile, day_listing, open_landing_file,
                                                    watchlist_file)
from watchlist_screening.normalise.rules import parse_date_time
from watchlist_screening.normalise.validate import parse_line, placement_problem
from watchlist_screening.privacy import keys, linkage_schema
from watchlist_screening.privacy.records import EncodingError, encode_passenger, encode_watchlist_entry

__all__ = ["encode_passenger", "encode_watchlist_entry", "encode_landing", "EncodingError", "main"]

MANIFEST = "encoding.json"
WATCHLIST = "watchlist/watchlist.jsonl"
SAME_AIRPORT_TWICE = "same_airport_twice"
NOT_ENCODABLE = "not_encodable"
CHUNK_RECORDS = 2000   # records per task of a worker process
_FILE_DAMAGE = (contract.TRUNCATED_GZIP, contract.CORRUPT_GZIP, contract.BAD_PARQUET)
KEY_MISMATCH = "key_mismatch"


class EncodedLandingError(RuntimeError):
    """The output directory holds another encoding (other key or schema): refusing to mix."""


def manifest(secret: bytes) -> dict:
    schema = linkage_schema.current()
    return {"linkage_schema": schema.name, "version": schema.version, "key_fingerprint": keys.fingerprint(secret),
            "clk_bits": schema.clk_bits, "fields": schema.fields}


def _write_manifest(out_dir: Path, secret: bytes) -> dict:
    """Write the manifest, or check the one there: CLKs under two keys never match, so an
    output directory must never mix them."""
    wanted = manifest(secret)
    path = out_dir / MANIFEST
    if path.exists():
        found = json.loads(path.read_text("utf-8"))
        for key in ("linkage_schema", "version", "key_fingerprint"):
            if found.get(key) != wanted[key]:
                raise EncodedLandingError(f"{path}: {key} is {found.get(key)!r}, this encoder's is {wanted[key]!r}; "
                                          "encode into a fresh directory (or use the same secret and schema)")
        return found
    _atomic_write(path, (json.dumps(wanted, indent=2) + "\n").encode("utf-8"))
    return wanted


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _lines(file: LandingFile, problems: list[dict]) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes without the line end) of a landing file; a damaged gzip
    stream ends the file with one file-level problem after the lines read before it."""
    raw = open_landing_file(file)
    stream = gzip.GzipFile(fileobj=raw) if file.gzipped else raw
    number = 0
    try:
        with stream:
            for number, line in enumerate(stream, start=1):
                yield number, line.rstrip(b"\r\n") if line.endswith(b"\n") else line
    except EOFError:
        problems.append({"file": file.relative, "line": number + 1, "reason": contract.TRUNCATED_GZIP,
                         "detail": f"gzip stream ends early after {number} complete lines"})
    except (OSError, zlib.error) as error:
        problems.append({"file": file.relative, "line": number + 1, "reason": contract.CORRUPT_GZIP,
                         "detail": contract.CORRUPT_GZIP_DETAIL.format(lines=number, error=error)})
    finally:
        raw.close()


def _json_value(value: object) -> object:
    """A Parquet cell as its JSON line would carry it: dates and zoned times as RFC 3339
    text (a time without a zone stays unzoned, so the contract check refuses it, as the
    clear pipeline does)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _parquet_rows(file: LandingFile, problems: list[dict]) -> Iterator[tuple[int, object]]:
    """(row number, the row as a dict) of a Parquet file; a file that cannot be read is
    one problem (bad_parquet, at line 0 when not even its footer can), after the rows read
    before the damage."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    number = 0
    try:
        with open_landing_file(file) as raw:
            for batch in pq.ParquetFile(raw).iter_batches(batch_size=4096):
                for row in batch.to_pylist():
                    number += 1
                    yield number, {k: _json_value(v) for k, v in row.items()}
    except (OSError, pa.ArrowException) as error:
        problems.append({"file": file.relative, "line": number, "reason": contract.BAD_PARQUET,
                         "detail": contract.BAD_PARQUET_DETAIL.format(error=error)})


def _decode_line(raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EncodingError(contract.NOT_UTF8, contract.NOT_UTF8_DETAIL) from None
    value, problem = parse_line(text)
    if problem:
        raise EncodingError(problem.reason, problem.detail)
    return value


@dataclass(frozen=True)
class _Target:
    """What a file holds: the watchlist, or one airport's passengers of one day (whose
    lines must carry that airport and day, as in the clear pipeline)."""
    watchlist: bool
    day: date | None = None
    airport: str | None = None


def _encoded_line(value: object, target: _Target, secret: bytes) -> bytes:
    if target.watchlist:
        line = encode_watchlist_entry(value, secret)
    else:
        line = encode_passenger(value, secret)   # checks the contract first
        problem = placement_problem(value["airport"], parse_date_time(value["scanned_at"]), target.day,
                                    target.airport)
        if problem:
            raise EncodingError(problem.reason, problem.detail)
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _encode_items(items: list[tuple[int, bytes | dict]], target: _Target,
                  secret: bytes) -> list[tuple[int, bytes | tuple[str, str]]]:
    """(number, encoded line or (reason, detail)) per raw line or Parquet row."""
    out: list[tuple[int, bytes | tuple[str, str]]] = []
    for number, item in items:
        try:
            value = _decode_line(item) if isinstance(item, bytes) else item
            out.append((number, _encoded_line(value, target, secret)))
        except EncodingError as error:
            out.append((number, (error.reason, error.detail)))
        except Exception as error:  # noqa: BLE001
            # a record the contract check let through but the encoder cannot take is a
            # bug to fix, yet it must cost one line, named, not the owner's whole file
            out.append((number, (NOT_ENCODABLE, f"the encoder failed on this line: {type(error).__name__}: {error}")))
    return out


# Worker processes get the secret once, from the pool's initializer, not with every chunk.
_WORKER_SECRET: bytes | None = None


def _init_worker(secret: bytes) -> None:
    global _WORKER_SECRET
    _WORKER_SECRET = secret


def _work(target: _Target, items: list[tuple[int, bytes | dict]]) -> list[tuple[int, bytes | tuple[str, str]]]:
    return _encode_items(items, target, _WORKER_SECRET)


def _chunks(items: Iterator) -> Iterator[list]:
    size = CHUNK_RECORDS
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _encode_file(file: LandingFile, out_path: Path, target: _Target, secret: bytes, pool: Executor | None,
                 summary: dict) -> None:
    problems: list[dict] = []
    items = (_parquet_rows if file.parquet else _lines)(file, problems)
    if pool is None:
        results = (r for chunk in _chunks(items) for r in _encode_items(chunk, target, secret))
    else:   # map keeps the chunks in file order
        results = (r for chunk in pool.map(partial(_work, target), _chunks(items)) for r in chunk)
    encoded: list[bytes] = []
    lines = 0
    for number, result in results:
        lines += 1
        if isinstance(result, bytes):
            encoded.append(result)
        else:
            problems.append({"file": file.relative, "line": number, "reason": result[0], "detail": result[1]})
    problems.sort(key=lambda p: p["line"] if p["line"] else float("inf"))   # file damage after its lines
    body = b"".join(encoded)
    _atomic_write(out_path, gzip.compress(body, mtime=0) if out_path.name.endswith(".gz") else body)
    rejected = [p for p in problems if p["reason"] not in _FILE_DAMAGE]
    summary["files"].append({"file": file.relative, "out": str(out_path), "lines": lines, "encoded": len(encoded),
                             "rejected": len(rejected), "damaged": len(problems) - len(rejected)})
    summary["lines"] += lines
    summary["encoded"] += len(encoded)
    summary["rejected"] += len(problems)
    summary["rejections"].extend(problems)


def _days(src_dir: Path) -> list[date]:
    folder = src_dir / "passengers"
    if not folder.is_dir() or folder.is_symlink():
        return []
    found = []
    for entry in sorted(os.listdir(folder)):
        try:
            found.append(date.fromisoformat(entry))
        except ValueError:
            continue   # not a day folder: the pipeline never reads it either
    return found


def encode_landing(src_dir: str | os.PathLike, out_dir: str | os.PathLike, secret: bytes, *,
                   days: list[date | str] | None = None, watchlist: bool | None = None, workers: int = 1) -> dict:
    """Encode a clear landing directory into `out_dir`: the given days' passenger files
    (every day folder when `days` is None) and the watchlist (when `watchlist` is True,
    or when it is None and the source holds one). `workers` > 1 encodes chunks of each
    file in that many processes (same output, in the same order). Returns the summary:
    counts per file, every rejected line with file, line, reason and detail, files not
    encoded."""
    src, out = Path(src_dir), Path(out_dir)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    manifest_written = _write_manifest(out, secret)
    summary: dict = {"encoding": linkage_schema.current().encoding,
                     "key_fingerprint": manifest_written["key_fingerprint"], "out_dir": str(out), "files": [],
                     "lines": 0, "encoded": 0, "rejected": 0, "rejected_by_reason": {}, "rejections": [],
                     "files_not_encoded": [], "workers": workers}
    if watchlist is None:
        watchlist = (src / WATCHLIST).exists() or (src / WATCHLIST).is_symlink()
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(secret,)) if workers > 1 else None
    try:
        if watchlist:
            try:
                file = watchlist_file(src)
            except LandingError as error:
                raise EncodedLandingError(str(error)) from None
            _encode_file(file, out / WATCHLIST, _Target(watchlist=True), secret, pool, summary)
        for day in (_days(src) if days is None else [date.fromisoformat(str(d)) for d in days]):
            _encode_day(src, out, day, secret, pool, summary)
    finally:
        if pool is not None:
            pool.shutdown()
    summary["rejected_by_reason"] = dict(Counter(p["reason"] for p in summary["rejections"]))
    seconds = time.perf_counter() - start
    summary["seconds"] = round(seconds, 3)
    summary["records_per_second"] = round(summary["encoded"] / seconds, 1) if seconds > 0 else None
    return summary


def _encode_day(src: Path, out: Path, day: date, secret: bytes, pool: Executor | None, summary: dict) -> None:
    listing = day_listing(src, day)
    encoded_from: dict[str, str] = {}
    for entry in listing.rejected:
        summary["files_not_encoded"].append({"file": entry.relative, "reason": entry.reason, "detail": entry.detail})
    for file in listing.files:
        name = Path(file.relative).name
        airport = name.split(".", 1)[0]
        # a Parquet day is written as JSONL: the encoded landing zone has one format
        out_name = f"{airport}.jsonl" if file.parquet else name
        if out_name in encoded_from:
            summary["files_not_encoded"].append({
                "file": file.relative, "reason": SAME_AIRPORT_TWICE,
                "detail": f"{out_name} is already encoded from {encoded_from[out_name]}; deliver one file per airport"})
            continue
        encoded_from[out_name] = file.relative
        _encode_file(file, out / "passengers" / day.isoformat() / out_name, _Target(False, day, airport), secret,
                     pool, summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m watchlist_screening.privacy.encode",
        description="Encode a clear landing directory (contract layout) into the encoded landing zone.")
    parser.add_argument("--secret-file", required=True, help="secret key file (raw bytes or hex, >= 32 bytes)")
    parser.add_argument("--landing-dir", required=True, help="clear landing directory (the source)")
    parser.add_argument("--out-dir", required=True, help="encoded landing directory (created if absent)")
    parser.add_argument("--date", action="append", default=None, metavar="YYYY-MM-DD",
                        help="encode this day's passenger files (repeatable; default: every day folder)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes encoding chunks of a file in parallel (default 1; worth it on idle cores)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-watchlist", action="store_true", help="do not encode watchlist/watchlist.jsonl")
    which.add_argument("--watchlist-only", action="store_true", help="encode the watchlist and no passenger day")
    args = parser.parse_args(argv)
    try:
        secret = keys.load_secret(args.secret_file)
        for d in args.date or []:
            date.fromisoformat(d)
        summary = encode_landing(args.landing_dir, args.out_dir, secret,
                                 days=[] if args.watchlist_only else args.date,
                                 watchlist=False if args.no_watchlist else (True if args.watchlist_only else None),
                                 workers=max(1, args.workers))
    except (keys.SecretKeyError, EncodedLandingError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for problem in summary["rejections"]:
        print(f"{problem['file']}:{problem['line']}: {problem['reason']}: {problem['detail']}", file=sys.stderr)
    for entry in summary["files_not_encoded"]:
        print(f"{entry['file']}: not encoded: {entry['reason']}: {entry['detail']}", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "rejections"}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
