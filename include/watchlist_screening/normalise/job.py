"""normalise_day: one scan day from the landing zone into the warehouse.

    spark-submit spark/normalise_day.py --date YYYY-MM-DD --landing-dir DIR
        [--max-quarantine-share 0.2]

The warehouse is $WAREHOUSE_DSN. The watchlist snapshot is loaded as a new version when
its content is new; then the day's airport files are checked, normalised, staged and
published in one transaction. Airport files are JSON lines (.jsonl, .jsonl.gz) or
Parquet rows (.parquet: parquet.py), staged in one Spark job. Entries of the day's folder
that are not airport files (links, folders, other names: landing.py) and Parquet files
that cannot be read are not read; each is a file-level quarantine entry (line 0) counted
in the summary. The last line on stdout is the run summary as JSON.

Exit status: 0 done; 3 written, but more passenger lines were quarantined than
--max-quarantine-share allows (the log says where to look); 1 anything else (the log names
the file or step).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from watchlist_screening.pipeline_settings import Settings, privacy_mode
from watchlist_screening.normalise import landing, parquet
from watchlist_screening.normalise.landing import LandingError, LandingFile, RejectedEntry
from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.encoded_manifest import record_day_mode
from watchlist_screening.normalise.lines import file_sources
from watchlist_screening.normalise.publish import known_watchlist_version, publish_day, publish_watchlist
from watchlist_screening.normalise.records import PASSENGERS, WATCHLIST, Dataset
from watchlist_screening.normalise.session import create_session
from watchlist_screening.normalise.staging import (
    FileStats, StagingTables, collect_staged, create_staging_tables, drop_staging_tables, finished_lines, staged_frame,
)
from watchlist_screening.normalise.summary import DaySummary, file_summaries, quarantine_alarm

log = logging.getLogger("normalise_day")
EXIT_FAILED = 1
EXIT_TOO_MANY_QUARANTINED = 3


class NumberingError(RuntimeError):
    """Lines of a file were lost or numbered twice between reading and staging."""


@dataclass(frozen=True)
class Staged:
    tables: StagingTables
    attempts: list[int]
    stats: list[FileStats]
    files: list[LandingFile]              # the files whose lines or rows were staged
    rejected: list[RejectedEntry]         # Parquet files found unreadable on the way (file-level entries)


def _stage(spark: SparkSession, conninfo: str, dataset: Dataset, files: list[LandingFile],
           target: str, prefix: str, scan_day: date | None = None) -> Staged:
    started = time.monotonic()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = create_staging_tables(conn, prefix, target, dataset, scan_day)
    try:
        found = [parquet.inspect(f, dataset) for f in files if f.parquet]
        rejected = [f for f in found if isinstance(f, RejectedEntry)]
        parquets = [f for f in found if not isinstance(f, RejectedEntry)]
        attempts, stats, unread = _write(spark, conninfo, dataset, [f for f in files if not f.parquet], parquets,
                                         tables)
        rejected += unread
        read = [f for f in files if f.relative not in {r.relative for r in rejected}]
        _check_numbering(read, stats, {p.file.relative: p.rows for p in parquets})
        for damage in (s for s in stats if s.reason in (c.TRUNCATED_GZIP, c.CORRUPT_GZIP)):
            log.warning("%s: %s after line %d: the lines before it are kept", damage.source_file,
                        damage.reason, damage.first_line - 1)
        for entry in rejected:
            log.warning("%s is not read: %s (%s)", entry.relative, entry.reason, entry.detail)
    except BaseException:
        _drop(conninfo, tables)
        raise
    log.info("%s: %d lines parsed, checked and staged in %.1f s", dataset.name,
             sum(s.lines for s in stats), time.monotonic() - started)
    return Staged(tables, attempts, stats, read, rejected)


def _write(spark: SparkSession, conninfo: str, dataset: Dataset, line_files: list[LandingFile],
           parquets: list[parquet.ParquetFile], tables: StagingTables
           ) -> tuple[list[int], list[FileStats], list[RejectedEntry]]:
    """All files staged in one Spark job. A Parquet file Spark cannot read (a column type
    it refuses, a damaged page behind a sound footer) becomes a file-level entry and the
    job runs again without it; rows its first run committed belong to attempts that are
    not collected, which publish removes as superseded."""
    rejected: list[RejectedEntry] = []
    while True:
        frames = []
        if line_files or not parquets:
            finishing = (dataset.finishing or finished_lines)(dataset)
            frames.append(staged_frame(file_sources(spark, line_files), finishing, conninfo, tables))
        for p in list(parquets):
            try:
                frames.append(parquet.parquet_frame(spark, p, dataset, conninfo, tables))
            except AnalysisException as error:
                rejected.append(parquet.rejected(p.file, error))
                parquets.remove(p)
        if not frames:
            return [], [], rejected
        try:
            attempts, stats = collect_staged(frames)
            return attempts, stats, rejected
        except Exception as error:
            message = str(error)
            broken = [p for p in parquets if str(p.file.path) in message or p.file.path.as_uri() in message]
            if not broken:
                raise
            for p in broken:
                log.warning("%s could not be read by Spark: staging again without it", p.file.relative)
                rejected.append(parquet.rejected(p.file, _spark_cause(message)))
                parquets.remove(p)


def _spark_cause(message: str) -> str:
    """The readable part of a failed Spark job's message: its first line, paths aside."""
    first = message.strip().splitlines()[0] if message.strip() else "Spark could not read it"
    return first[:300]


def _drop(conninfo: str, tables: StagingTables) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        drop_staging_tables(conn, tables)


def _check_numbering(files: list[LandingFile], stats: list[FileStats], rows: dict[str, int]) -> None:
    """Every line of every file staged exactly once: numbers 1..n with n lines (for a
    Parquet file, n its footer's row count)."""
    for file in files:
        mine = [s for s in stats if s.source_file == file.relative]
        lines = sum(s.lines for s in mine)
        if file.relative in rows:
            if lines != rows[file.relative]:
                raise NumberingError(f"{file.relative}: {lines} rows staged, its footer counts {rows[file.relative]}")
        elif file.size > 0 and not lines:
            raise NumberingError(f"{file.relative}: no line of this non-empty file was staged")
        if mine and (min(s.first_line for s in mine) != 1 or max(s.last_line for s in mine) != lines):
            raise NumberingError(f"{file.relative}: {lines} lines staged, numbered "
                                 f"{min(s.first_line for s in mine)}..{max(s.last_line for s in mine)}")


def load_watchlist(spark: SparkSession, conninfo: str, landing_dir: Path) -> int:
    """The version id of the landing zone's watchlist, loading it if its content is new."""
    file = landing.watchlist_file(landing_dir)
    content_hash = landing.content_hash(file)
    version = known_watchlist_version(conninfo, content_hash)
    if version is not None:
        log.info("watchlist unchanged (sha256 %s…): reusing version %d", content_hash[:12], version)
        return version
    staged = _stage(spark, conninfo, WATCHLIST, [file], "warehouse.watchlist", "watchlist")
    try:
        version, published = publish_watchlist(conninfo, content_hash, WATCHLIST, staged.tables,
                                               staged.attempts, file)
    finally:
        _drop(conninfo, staged.tables)
    if published is None:
        log.info("watchlist was published by a concurrent run as version %d", version)
    else:
        log.info("watchlist loaded as version %d: %d subjects, %d lines quarantined %s",
                 version, published.rows, published.quarantined, published.quarantined_by_reason)
    return version


def normalise_day(spark: SparkSession, conninfo: str, landing_dir: Path, day: date,
                  watchlist_version: int) -> DaySummary:
    listing = landing.day_listing(landing_dir, day)
    files = listing.files
    log.info("%s: %d file(s) %s, %d entr%s not read", day, len(files), [f.relative for f in files],
             len(listing.rejected), "y" if len(listing.rejected) == 1 else "ies")
    staged = _stage(spark, conninfo, PASSENGERS, files, "warehouse.passengers", f"passengers_{day:%Y%m%d}", day)
    rejected = [*listing.rejected, *staged.rejected]
    started = time.monotonic()
    try:
        published, duplicates = publish_day(conninfo, day, PASSENGERS, staged.tables, staged.attempts,
                                            staged.files, watchlist_version, rejected)
    finally:
        _drop(conninfo, staged.tables)
    log.info("%s: published in %.1f s", day, time.monotonic() - started)
    return DaySummary(day.isoformat(), watchlist_version, published.rows, published.quarantined,
                      published.quarantined_by_reason,
                      file_summaries(staged.files, staged.stats, duplicates, PASSENGERS.duplicate_reason, rejected))


def _redacted(dsn: str) -> str:
    """The DSN without its password, for logs."""
    params = conninfo_to_dict(dsn)
    params.pop("password", None)
    return " ".join(f"{key}={value}" for key, value in sorted(params.items()))


def _arguments(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="normalise_day", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="scan day, YYYY-MM-DD")
    parser.add_argument("--landing-dir", type=Path, default=settings.landing_dir,
                        help="landing zone root (default: $WATCHLIST_LANDING_DIR)")
    parser.add_argument("--max-quarantine-share", type=float, default=settings.max_quarantine_share,
                        help="fail above this share of quarantined passenger lines "
                             "(default: $WATCHLIST_MAX_QUARANTINE_SHARE or 0.2)")
    parser.add_argument("--privacy-mode", default=settings.privacy_mode,
                        help="clear (the data contract) or encoded (the edge encoder's CLKs and templates: "
                             "encoded_job.py); default: $WATCHLIST_PRIVACY_MODE or clear")
    args = parser.parse_args(argv)
    if not 0.0 <= args.max_quarantine_share <= 1.0:
        parser.error("--max-quarantine-share must be between 0 and 1")
    try:
        args.privacy_mode = privacy_mode(args.privacy_mode)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    # spark-submit merges the driver's stderr into its stdout: nothing may be logged after
    # the summary line (py4j says goodbye at exit, at INFO).
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = Settings.from_env()
    args = _arguments(argv, settings)
    conninfo = settings.warehouse_dsn
    log.info("normalising %s from %s into %s", args.date, args.landing_dir, _redacted(conninfo))
    spark = create_session(f"normalise_day {args.date}")
    try:
        if args.privacy_mode == "encoded":
            from watchlist_screening.normalise import encoded_job

            version = encoded_job.load_watchlist(spark, conninfo, args.landing_dir)
            summary = encoded_job.normalise_day(spark, conninfo, args.landing_dir, args.date, version)
        else:
            version = load_watchlist(spark, conninfo, args.landing_dir)
            summary = normalise_day(spark, conninfo, args.landing_dir, args.date, version)
            record_day_mode(conninfo, args.date, "clear", None)
    except (LandingError, NumberingError, OSError, psycopg.Error) as error:
        log.error("normalise_day %s failed: %s", args.date, error)
        return EXIT_FAILED
    except Exception as error:   # Spark's errors name the file they failed on
        log.error("normalise_day %s failed: %s", args.date, str(error).strip().splitlines()[0], exc_info=True)
        return EXIT_FAILED
    finally:
        spark.stop()
    for reason, count in summary.quarantined_by_reason.items():
        log.info("quarantined %s: %d", reason, count)
    log.info("%s: %d passengers, %d quarantined", args.date, summary.passengers, summary.quarantined)
    alarm = quarantine_alarm(summary, args.max_quarantine_share)
    if alarm:
        log.error(alarm)
    sys.stderr.flush()
    print(json.dumps(summary.as_json()), flush=True)   # the last line, whatever the outcome
    return EXIT_TOO_MANY_QUARANTINED if alarm else 0
