"""JSON Lines output: compact UTF-8, files appear atomically, gzip output byte-reproducible."""
from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec

# msgspec rather than json: ~5x faster on the 128-float embeddings, which dominate the cost.
_ENCODER = msgspec.json.Encoder()


def encode(obj) -> bytes:
    return _ENCODER.encode(obj)


def encode_lines(rows: Iterable) -> bytes:
    return _ENCODER.encode_lines(rows)


@contextmanager
def open_lines(path: Path, compress: bool = False) -> Iterator[BinaryIO]:
    """A binary stream that becomes `path` once complete. It is written under a hidden
    temporary name, so a reader listing the landing directory never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as raw:
            if compress:
                # mtime=0 and no name in the header keep the bytes reproducible. Level 1:
                # embeddings hardly compress, higher levels cost ~3x the time for a few %.
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                   compresslevel=1) as stream:
                    yield stream
            else:
                yield raw
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_lines(path: Path, rows: Iterable) -> None:
    with open_lines(path) as out:
        out.write(encode_lines(rows))


# Parquet output (--format parquet): the contract's Parquet section, typed columns.
_TEXT_FIELDS = ("scan_id", "airport", "direction", "flight_number", "document_number", "issuing_country",
                "given_names", "surname", "place_of_birth", "nationality", "sex", "eye_colour")


def passenger_schema(dates_as_text: bool = False):
    """Every contract field as a column: text, scanned_at a UTC timestamp, the date of
    birth a date32 (ISO text in a file that carries a malformed one), numbers as float64
    (what the JSON text holds, so both formats stage the same floats)."""
    import pyarrow as pa

    return pa.schema([
        *((name, pa.string()) for name in _TEXT_FIELDS[:2]),
        ("scanned_at", pa.timestamp("us", "UTC")),
        *((name, pa.string()) for name in _TEXT_FIELDS[2:8]),
        ("date_of_birth", pa.string() if dates_as_text else pa.date32()),
        *((name, pa.string()) for name in _TEXT_FIELDS[8:10]),
        ("sex", pa.string()), ("height_cm", pa.float64()), ("eye_colour", pa.string()),
        ("face_embedding", pa.list_(pa.float64())),
    ])


def _typed(value, kind):
    """A JSON value as the column's type holds it, None where it cannot (a per-row wrong
    type has no place in a typed column: the row then lacks the field)."""
    from datetime import datetime

    import pyarrow as pa

    if value is None:
        return None
    if kind == pa.string():
        return value if isinstance(value, str) else None
    if pa.types.is_timestamp(kind):
        try:
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00")) if isinstance(value, str) else None
        except ValueError:
            return None
    if pa.types.is_date32(kind):
        from datetime import date

        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if pa.types.is_list(kind):
        if not isinstance(value, list):
            return None
        return [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in value]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def rows_table(records: list[dict | None], schema):
    """Records (None: a line that is not a JSON object) as one Parquet row group."""
    import pyarrow as pa

    columns = {}
    for field in schema:
        values = [_typed(r.get(field.name), field.type) if isinstance(r, dict) else None for r in records]
        columns[field.name] = pa.array(values, field.type)
    return pa.table(columns, schema=schema)


@contextmanager
def open_rows(path: Path, schema) -> Iterator:
    """A Parquet writer whose file becomes `path` once complete (see open_lines)."""
    import pyarrow.parquet as pq

    with open_lines(path) as out:
        with pq.ParquetWriter(out, schema) as writer:
            yield writer
