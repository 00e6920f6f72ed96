"""The day's candidate pairs kept between the tasks that need them.

Training (ensure_model) and scoring (score_day) are two Airflow tasks, and each needs the
day's candidate pairs: the photo search, the one step whose cost grows with the day's size
times the list's, would run twice on a day that trains. The first task writes the pairs to
a Parquet file; the second reads them back when what they were searched from is unchanged.

"Unchanged" is checked, not assumed: the key is a fingerprint of every loaded passenger and
watchlist row (DuckDB's hash of each whole row, summed), the candidate settings and this
module's format. A re-normalised day, another watchlist version, a changed setting or a
changed row gives another key, and the pairs are searched again. A missing, unreadable or
foreign file is the same as no file: the cache can make a run faster, never different.

One file per day (a later key replaces it), and files of days older than `keep_days` are
removed when one is written; on a cluster whose tasks run on different machines each
machine keeps its own, and a task that finds none searches.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from watchlist_screening.linkage.candidates import CANDIDATES, CandidateConfig
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST, scalar

log = logging.getLogger(__name__)

FORMAT = "candidate-pairs/1"   # bump when build_candidates' output changes meaning
_KEY = b"watchlist_screening.candidate_key"


def key(con: duckdb.DuckDBPyConnection, config: CandidateConfig) -> str:
    """What the day's candidate pairs are a function of, as one hex digest."""
    rows = {table: scalar(con, f"SELECT count(*)::VARCHAR || ':' || coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR "
                               f"FROM {table} t") for table in (PASSENGERS, WATCHLIST)}
    described = json.dumps({"format": FORMAT, "config": dataclasses.asdict(config), "rows": rows}, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()


def _path(directory: Path, day: dt.date) -> Path:
    return directory / f"{day.isoformat()}.parquet"


def load(con: duckdb.DuckDBPyConnection, directory: Path | None, day: dt.date, wanted: str) -> bool:
    """Create CANDIDATES from the day's file if it was written under `wanted`; False (and
    nothing created) otherwise."""
    if directory is None:
        return False
    path = _path(directory, day)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        return False
    except (OSError, pa.ArrowException) as error:   # a half-written or damaged file: search again
        log.warning("candidate cache %s unreadable (%s): searching the day's candidates again", path, error)
        return False
    found = (table.schema.metadata or {}).get(_KEY, b"").decode()
    if found != wanted:
        log.info("candidate cache %s was written for other inputs or settings: searching again", path)
        return False
    con.register("cached_candidates", table)
    con.execute(f"CREATE OR REPLACE TABLE {CANDIDATES} AS SELECT * FROM cached_candidates")
    con.unregister("cached_candidates")
    log.info("candidate pairs of %s read from %s (%d pairs; same passengers, watchlist and settings)",
             day, path, table.num_rows)
    return True


def store(con: duckdb.DuckDBPyConnection, directory: Path | None, day: dt.date, written: str,
          keep_days: int = 7) -> None:
    """Write CANDIDATES as the day's file under key `written` (atomically: a reader sees the
    old file or the new one), then drop files of days more than `keep_days` before `day`."""
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    table = con.sql(f"SELECT * FROM {CANDIDATES}").to_arrow_table()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _KEY: written.encode()})
    path = _path(directory, day)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    pq.write_table(table, partial)
    os.replace(partial, path)
    for old in directory.glob("*.parquet"):
        try:
            old_day = dt.date.fromisoformat(old.stem)
        except ValueError:
            continue
        if abs((day - old_day).days) > keep_days:
            old.unlink(missing_ok=True)
