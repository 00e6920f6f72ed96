"""binary_copy against the real PostgreSQL: what goes in through COPY BINARY comes back
out of the table unchanged, for every type the staging tables use, NULLs included."""
from __future__ import annotations

import math
import struct
from datetime import date, datetime, timezone

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from watchlist_screening.normalise import binary_copy

pytestmark = pytest.mark.integration

COLUMNS = {   # PostgreSQL type, Arrow type
    "t": ("text", pa.string()),
    "i": ("integer", pa.int32()),
    "b": ("bigint", pa.int64()),
    "r": ("real", pa.float32()),
    "d": ("date", pa.date32()),
    "ts": ("timestamp with time zone", pa.timestamp("us", "UTC")),
    "e": ("real[]", pa.list_(pa.float32())),
    "names": ("text[]", pa.list_(pa.string())),
    "dobs": ("date[]", pa.list_(pa.date32())),
}


def _round_trip(dsn: str, table: pa.Table) -> list[tuple]:
    columns = ", ".join(f"{name} {COLUMNS[name][0]}" for name in table.column_names)
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TEMP TABLE copied (n serial, {columns})")
        with conn.cursor().copy(f"COPY copied ({', '.join(table.column_names)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(binary_copy.encode(table))
        return conn.execute(f"SELECT {', '.join(table.column_names)} FROM copied ORDER BY n").fetchall()


def test_every_staging_type_and_null_survives_the_round_trip(warehouse_dsn):
    utc = timezone.utc
    rows = {
        "t": ["Raúl Ruiz Díaz", "", None, "张伟 Иван \t\"quoted\"\\"],
        "i": [1, -2_147_483_648, None, 2_147_483_647],
        "b": [0, -(2**63), 2**63 - 1, None],
        "r": [187.5, -0.0, None, 3.4e38],
        "d": [date(2030, 6, 1), date(1901, 2, 28), None, date(1999, 12, 31)],
        "ts": [datetime(2030, 6, 1, 12, 30, 1, 123456, utc), datetime(1969, 7, 20, 20, 17, 40, tzinfo=utc), None,
               datetime(2000, 1, 1, tzinfo=utc)],
        "e": [[0.25, -0.5], [1.0], None, []],            # lengths differ: per-row packing
        "names": [["raul ruiz diaz", "r diaz"], [], None, ["a", None]],
        "dobs": [[date(1977, 2, 12), date(1977, 12, 2)], [], None, [date(2000, 1, 1)]],
    }
    table = pa.table({name: pa.array(values, COLUMNS[name][1]) for name, values in rows.items()})
    got = _round_trip(warehouse_dsn, table)
    expected = list(zip(*rows.values()))
    assert got == expected


def test_embeddings_of_one_length_take_the_vectorised_path_and_keep_every_bit(warehouse_dsn):
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((500, 128)).astype(np.float32)
    vectors[3, 5] = np.float32(1e-45)     # a subnormal
    vectors[4, 0] = np.float32("inf")
    offsets = pa.array(np.arange(501, dtype=np.int32) * 128)
    embeddings = pa.ListArray.from_arrays(offsets, pa.array(vectors.ravel()))
    assert binary_copy._uniform_float_array_field(embeddings) is not None
    table = pa.table({"i": pa.array(range(500), pa.int32()), "e": embeddings})
    got = _round_trip(warehouse_dsn, table)
    assert [row[0] for row in got] == list(range(500))
    returned = np.array([row[1] for row in got], dtype=np.float32)
    assert returned.tobytes() == vectors.tobytes()
    assert math.isinf(got[4][1][0])


def test_a_sliced_batch_encodes_only_its_own_rows(warehouse_dsn):
    """Spark hands over slices of larger buffers: offsets must be honoured."""
    offsets = pa.array(np.arange(11, dtype=np.int32) * 2)
    embeddings = pa.ListArray.from_arrays(offsets, pa.array(np.arange(20, dtype=np.float32)))
    table = pa.table({"t": [f"row {i}" for i in range(10)], "e": embeddings}).slice(4, 3)
    got = _round_trip(warehouse_dsn, table)
    assert got == [("row 4", [8.0, 9.0]), ("row 5", [10.0, 11.0]), ("row 6", [12.0, 13.0])]


def test_stream_framing_matches_the_documented_format():
    table = pa.table({"i": pa.array([7], pa.int32())})
    data = binary_copy.encode(table)
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(struct.pack(">h", -1))
    assert data[19:-2] == struct.pack(">hii", 1, 4, 7)
    assert binary_copy.encode(table.slice(0, 0)) == binary_copy.HEADER + binary_copy.TRAILER


def test_a_type_without_an_encoding_is_refused_by_name():
    with pytest.raises(binary_copy.UnsupportedType, match="bool"):
        binary_copy.encode(pa.table({"flag": [True]}))
