"""The line contract over typed Arrow columns (a Parquet file's rows), vectorised with
pyarrow's kernels: which rows honour it, and their values typed as the warehouse keeps them.

Like tier 1 (parse.py) for JSONL, this only decides which rows are good. The problem of
every other row is named by the reference (validate.first_problem and placement_problem)
on the row as a JSON line would carry it (`json_records`), so a Parquet row and a JSONL
line are judged by one set of rules, with the same reasons and details. A vectorised
rule that refuses a row the reference accepts shows as check_disagreement, as in JSONL.

A Parquet column has one type for all its rows. A column of a type the contract does not
allow for its field (an embedding as text, a height as text) makes each of its non-null
rows bad, and the reference names it per row (`field 'height_cm' must be a number, got
string`); types JSON has no word for are named by their Arrow type (`got timestamp[us]`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field, Kind
from watchlist_screening.normalise.rules import (
    DATE_PATTERN, DATE_TIME_PATTERN, date_time_of_pattern, embedding_lengths, unit_vectors,
)
from watchlist_screening.normalise.validate import Foreign, Problem, first_problem, placement_problem

UTC_MICROS = pa.timestamp("us", "UTC")
_NANOS = pa.timestamp("ns", "UTC")
# date32 days of 0001-01-01 and 9999-12-31: the years a YYYY-MM-DD text can carry
_FIRST_DAY = (date(1, 1, 1) - date(1970, 1, 1)).days
_LAST_DAY = (date(9999, 12, 31) - date(1970, 1, 1)).days


def re2_pattern(pattern: str) -> str:
    """A schema pattern for Arrow's RE2, which spells \\uXXXX as \\x{XXXX}; RE2's $ (not
    multi-line) matches only at the very end, as the schema means."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", pattern)


_UNPRINTABLE = re2_pattern(c.UNPRINTABLE_CLASS)


def is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _is_string(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)


def is_instant(kind: pa.DataType) -> bool:
    """A timestamp with a time zone: Arrow (and Parquet's isAdjustedToUTC) keep those in UTC,
    whatever zone they are shown in. One without is a local time the contract has no use for."""
    return pa.types.is_timestamp(kind) and kind.tz is not None


def _bools(array: pa.Array) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class Checked:
    good: np.ndarray                 # bool per row: honours the contract (placement aside)
    columns: dict[str, pa.Array]     # every field typed as the warehouse keeps it (meaningful where good)
    vectors: np.ndarray              # unit embeddings of the good rows, in order (float32)


def _strings(field: Field, column: pa.Array) -> tuple[np.ndarray, pa.Array]:
    column = column.cast(pa.string())
    ok = np.ones(len(column), dtype=bool)
    if field.max_length is not None:
        ok &= _bools(pc.less_equal(pc.utf8_length(column), field.max_length))
    if field.kind is Kind.ID:
        ok &= _bools(pc.greater(pc.utf8_length(column), 0))
    if field.kind is Kind.STRING:
        ok &= ~_bools(pc.match_substring(column, "\x00"))
    if field.pattern == c.PRINTABLE_PATTERN:
        ok &= ~_bools(pc.match_substring_regex(column, _UNPRINTABLE))
    elif field.pattern is not None:
        ok &= _bools(pc.match_substring_regex(column, re2_pattern(field.pattern)))
    if field.kind is Kind.ENUM:
        ok &= _bools(pc.is_in(column, value_set=pa.array(field.choices)))
    return ok, column


def _dates(column: pa.Array) -> tuple[np.ndarray, pa.Array]:
    if pa.types.is_date32(column.type):
        days = column.cast(pa.int32())
        ok = _bools(pc.and_(pc.greater_equal(days, _FIRST_DAY), pc.less_equal(days, _LAST_DAY)))
        return ok, column
    text = column.cast(pa.string())
    shaped = pc.and_(pc.match_substring_regex(text, f"^{DATE_PATTERN}$"),
                     pc.not_equal(pc.utf8_slice_codeunits(text, 0, 4), "0000"))
    parsed = pc.strptime(pc.if_else(shaped, text, pa.scalar(None, pa.string())), "%Y-%m-%d", "s",
                         error_is_null=True)
    # strptime rolls 02-30 over into March: a real calendar day prints back as it was read
    ok = _bools(pc.and_(shaped, pc.equal(pc.strftime(parsed, "%Y-%m-%d"), text)))
    return ok, pc.if_else(ok, parsed.cast(pa.date32()), pa.scalar(None, pa.date32()))


def _date_times(column: pa.Array, nanos: bool) -> tuple[np.ndarray, pa.Array]:
    if nanos:   # Spark hands a TIMESTAMP(NANOS) column over as its int64 count
        column = column.cast(pa.int64()).cast(_NANOS)
    if pa.types.is_timestamp(column.type):
        micros = pc.cast(column, UTC_MICROS, safe=False)
        days = micros.cast(pa.date32()).cast(pa.int32())
        ok = _bools(pc.and_(pc.greater_equal(days, _FIRST_DAY), pc.less_equal(days, _LAST_DAY)))
        return ok, micros
    # Text goes through the JSONL path's own conversion (RFC 3339 offsets and fractions as
    # tier 1 reads them): per value, but only for a feed that sends text, not timestamps.
    text = column.cast(pa.string())
    shaped = _bools(pc.match_substring_regex(text, f"^{DATE_TIME_PATTERN}$"))
    values = [date_time_of_pattern(t) if s else None for t, s in zip(text.to_pylist(), shaped)]
    converted = pa.array(values, UTC_MICROS)
    return shaped & converted.is_valid().to_numpy(zero_copy_only=False), converted


def _numbers(field: Field, column: pa.Array) -> tuple[np.ndarray, pa.Array]:
    values = pc.cast(column, pa.float64(), safe=False)
    low, high = field.value_range
    ok = _bools(pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high)))   # NaN is neither
    return ok, pc.cast(values, pa.float32(), safe=False)


def _embeddings(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 128 finite numbers with a length to scale by, and their unit vectors."""
    ok = _bools(pc.equal(pc.list_value_length(column), c.EMBEDDING_SIZE))
    sized = np.flatnonzero(ok)
    # all rows the right length (the common case): no copy of the lists to take them
    rows = column if len(sized) == len(column) else column.take(pa.array(sized, pa.int64()))
    flat = pc.cast(pc.list_flatten(rows), pa.float64(), safe=False)   # a NULL element becomes NaN below
    matrix = flat.to_numpy(zero_copy_only=False).reshape(len(sized), c.EMBEDDING_SIZE)
    with np.errstate(invalid="ignore"):
        lengths = embedding_lengths(matrix)
    scalable = np.isfinite(matrix).all(axis=1) & (lengths > 0) & np.isfinite(lengths)
    ok[sized[~scalable]] = False
    return ok, matrix[scalable]


def accepts(field: Field, kind: pa.DataType, nanos: bool = False) -> bool:
    """Whether a column of Arrow type `kind` can hold the field's values (the contract's
    Parquet section); rows of any other type are bad wherever not NULL."""
    if field.kind is Kind.DATE:
        return pa.types.is_date32(kind) or _is_string(kind)
    if field.kind is Kind.DATETIME:
        return is_instant(kind) or _is_string(kind) or (nanos and pa.types.is_int64(kind))
    if field.kind is Kind.NUMBER:
        return is_numeric(kind)
    if field.kind is Kind.EMBEDDING:
        return _is_list(kind) and is_numeric(kind.value_type)
    if field.kind is Kind.ALIASES:
        return False   # the watchlist is JSONL only
    return _is_string(kind)


_WAREHOUSE_TYPES = {Kind.DATE: pa.date32(), Kind.DATETIME: UTC_MICROS, Kind.NUMBER: pa.float32()}


def check_columns(table: pa.Table | pa.RecordBatch, fields: tuple[Field, ...],
                  nanos: frozenset[str] = frozenset()) -> Checked:
    """Which rows of `table` (columns named as the contract's fields; others ignored)
    honour the contract, every field typed as the warehouse keeps it, and the good rows'
    unit embeddings. `nanos`: int64 columns that hold a TIMESTAMP(NANOS) (see parquet.py)."""
    n = table.num_rows
    good = np.ones(n, dtype=bool)
    columns: dict[str, pa.Array] = {}
    embedding: pa.Array | None = None
    for field in fields:
        column = table.column(field.name) if field.name in table.schema.names else None
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        present = np.zeros(n, dtype=bool) if column is None else column.is_valid().to_numpy(zero_copy_only=False)
        if field.required:
            good &= present
        typed = pa.nulls(n, _WAREHOUSE_TYPES.get(field.kind, pa.string()))
        if column is None or not present.any():
            columns[field.name] = typed
            continue
        if not accepts(field, column.type, field.name in nanos):
            good &= ~present
            columns[field.name] = typed
            continue
        if field.kind is Kind.EMBEDDING:
            embedding = column
            continue
        if field.kind is Kind.DATE:
            ok, typed = _dates(column)
        elif field.kind is Kind.DATETIME:
            ok, typed = _date_times(column, field.name in nanos)
        elif field.kind is Kind.NUMBER:
            ok, typed = _numbers(field, column)
        else:
            ok, typed = _strings(field, column)
        good &= ok | ~present
        columns[field.name] = typed
    vectors = np.zeros((0, c.EMBEDDING_SIZE), np.float32)
    if embedding is not None:
        # Checked on every row, bad ones too: taking the good rows first would copy the
        # batch's 128-number lists whenever one row is bad, which costs more than checking
        # the few bad rows' embeddings.
        ok, matrix = _embeddings(embedding)
        kept = good[ok]
        good &= ok
        vectors = unit_vectors(matrix if kept.all() else matrix[kept])
    return Checked(good, columns, vectors)


def misplaced(columns: dict[str, pa.Array], day: date | None, airport: str | None) -> np.ndarray:
    """Rows whose airport or UTC day is not their file's (bool per row; NULL is not)."""
    wrong = np.zeros(len(columns["airport"]), dtype=bool)
    if airport is not None:
        wrong |= _bools(pc.not_equal(columns["airport"], airport))
    if day is not None:   # a UTC timestamp's date32 is its UTC date
        wrong |= _bools(pc.not_equal(columns["scanned_at"].cast(pa.date32()), pa.scalar(day, pa.date32())))
    return wrong


def _iso(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


def _json_value(value):
    """A Python value of a JSON-like Arrow column as JSON carries it (decimals as numbers;
    bytes, with no JSON equivalent, named by what they are)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, tuple):   # a map's entries
        return [_json_value(v) for v in value]
    if isinstance(value, (bytes, date)):   # inside a list or struct: no JSON type either
        return Foreign(type(value).__name__, value)
    return value


def _json_column(field: Field, column: pa.Array, nanos: bool) -> list:
    """One column's values as the reference judges them: a date or UTC timestamp where
    the field takes one as its ISO text, any other non-JSON type as a Foreign."""
    kind = column.type
    if field.kind is Kind.DATETIME and nanos and pa.types.is_int64(kind):
        column, kind = column.cast(_NANOS), _NANOS
    temporal = pa.types.is_temporal(kind)
    if temporal and accepts(field, kind, nanos):
        try:
            if pa.types.is_timestamp(kind):
                column = pc.cast(column, UTC_MICROS, safe=False)
            return [None if v is None else _iso(v) for v in column.to_pylist()]
        except (ValueError, OverflowError, pa.ArrowException):   # years Python has no date for
            return column.cast(pa.string()).to_pylist()
    if temporal:
        return [None if v is None else Foreign(str(kind), v) for v in column.cast(pa.string()).to_pylist()]
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return [None if v is None else Foreign(str(kind), v) for v in column.to_pylist()]
    return [_json_value(v) for v in column.to_pylist()]


def json_records(table: pa.Table | pa.RecordBatch, rows: np.ndarray, fields: tuple[Field, ...],
                 nanos: frozenset[str] = frozenset()) -> list[dict]:
    """The `rows` of `table` as the JSON objects a line would carry: contract fields only,
    a NULL kept as null (an optional field's null counts as absent), an absent column absent."""
    taken = table.take(pa.array(rows, pa.int64()))
    records: list[dict] = [{} for _ in range(len(rows))]
    for field in fields:
        if field.name not in taken.schema.names:
            continue
        column = taken.column(field.name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        for record, value in zip(records, _json_column(field, column, field.name in nanos)):
            record[field.name] = value
    return records


def record_problem(record: dict, fields: tuple[Field, ...], day: date | None, airport: str | None) -> Problem | None:
    """The reference's first problem of a row, placement included (as a JSONL line's)."""
    problem = first_problem(record, fields)
    if problem is None and "scanned_at" in record and "airport" in record:
        problem = placement_problem(record["airport"], date_time_of_pattern(record["scanned_at"]), day, airport)
    return problem


def json_text(record: dict) -> str:
    """The raw text a quarantine row shows for a row that was never a line."""
    return json.dumps(record, ensure_ascii=False, default=str)
