"""normalise_day in the encoded mode (`--privacy-mode encoded`, WATCHLIST_PRIVACY_MODE):
the same staging, duplicate handling, quarantine and publish as the clear job (job.py),
over the encoded datasets of encoded_rows.py, with the manifest's key checked against
the watchlist version's.

Encoded feeds are JSON lines (.jsonl, .jsonl.gz): a day's .parquet file is a file-level
quarantine entry here, as the encoder writes none.
"""
from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path

from pyspark.sql import SparkSession

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise import landing
from watchlist_screening.normalise.encoded_manifest import (
    check_same_key, read_manifest, record_day_mode, record_watchlist_key, watchlist_key, watchlist_manifest,
)
from watchlist_screening.normalise.encoded_rows import ENCODED_PASSENGERS, ENCODED_WATCHLIST
from watchlist_screening.normalise.landing import RejectedEntry
from watchlist_screening.normalise.publish import known_watchlist_version, publish_day, publish_watchlist
from watchlist_screening.normalise.summary import DaySummary, file_summaries

log = logging.getLogger("normalise_day")
PARQUET_DETAIL = "an encoded landing zone holds JSON lines only (.jsonl, .jsonl.gz); not read"


def load_watchlist(spark: SparkSession, conninfo: str, landing_dir: Path) -> int:
    """The version id of the encoded watchlist, loading it if its content is new."""
    from watchlist_screening.normalise import job

    manifest = watchlist_manifest(landing_dir)
    file = landing.watchlist_file(landing_dir)
    content_hash = landing.content_hash(file)
    version = known_watchlist_version(conninfo, content_hash)
    if version is None:
        staged = job._stage(spark, conninfo, ENCODED_WATCHLIST, [file], "warehouse.watchlist", "watchlist")
        try:
            version, published = publish_watchlist(conninfo, content_hash, ENCODED_WATCHLIST, staged.tables,
                                                   staged.attempts, file)
        finally:
            job._drop(conninfo, staged.tables)
        if published is not None:
            record_watchlist_key(conninfo, version, manifest)
            log.info("encoded watchlist loaded as version %d (key %s): %d subjects, %d lines quarantined %s",
                     version, manifest.key_fingerprint, published.rows, published.quarantined,
                     published.quarantined_by_reason)
    else:
        log.info("encoded watchlist unchanged (sha256 %s…): reusing version %d", content_hash[:12], version)
    return version


def normalise_day(spark: SparkSession, conninfo: str, landing_dir: Path, day: date,
                  watchlist_version: int) -> DaySummary:
    from watchlist_screening.normalise import job

    manifest = read_manifest(landing_dir)
    # before reading a line: a day under another key is not worth loading
    check_same_key(watchlist_version, *watchlist_key(conninfo, watchlist_version), day, manifest)
    listing = landing.day_listing(landing_dir, day)
    files = [f for f in listing.files if not f.parquet]
    rejected = [*listing.rejected,
                *(RejectedEntry(f.relative, c.UNSUPPORTED_FORMAT, PARQUET_DETAIL) for f in listing.files if f.parquet)]
    log.info("%s (encoded, key %s): %d file(s) %s, %d entr%s not read", day, manifest.key_fingerprint, len(files),
             [f.relative for f in files], len(rejected), "y" if len(rejected) == 1 else "ies")
    staged = job._stage(spark, conninfo, ENCODED_PASSENGERS, files, "warehouse.passengers",
                        f"passengers_{day:%Y%m%d}", day)
    started = time.monotonic()
    try:
        published, duplicates = publish_day(conninfo, day, ENCODED_PASSENGERS, staged.tables, staged.attempts,
                                            staged.files, watchlist_version, rejected)
    finally:
        job._drop(conninfo, staged.tables)
    record_day_mode(conninfo, day, "encoded", manifest.key_fingerprint)
    log.info("%s: published in %.1f s", day, time.monotonic() - started)
    return DaySummary(day.isoformat(), watchlist_version, published.rows, published.quarantined,
                      published.quarantined_by_reason,
                      file_summaries(staged.files, staged.stats, duplicates, ENCODED_PASSENGERS.duplicate_reason,
                                     rejected))
