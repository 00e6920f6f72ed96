"""Apply versioned SQL migrations (`sql/<schema>/V###__name.sql`) exactly once each.

Each migration runs in its own transaction and is recorded with its checksum, so a
changed file that was already applied is reported instead of silently skipped.
An advisory lock serialises concurrent callers (two DAG runs, `make up`).
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import sys
from pathlib import Path

import psycopg

from watchlist_screening.pipeline_settings import REPO_ROOT

log = logging.getLogger(__name__)
SQL_ROOT = REPO_ROOT / "sql"
_NAME = re.compile(r"^V(\d{3,})__[\w-]+\.sql$")
_LOCK_ID = 0x5C12EE


class MigrationError(RuntimeError):
    pass


def migration_files(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files must be named V###__description.sql")
        found.append((int(match.group(1)), path))
    versions = [v for v, _ in found]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return found


def apply_migrations(dsn: str, directory: Path) -> list[str]:
    """Apply pending migrations from `directory`; return the names applied now."""
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS public.schema_migrations (
                       version integer PRIMARY KEY, name text NOT NULL,
                       checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = dict(conn.execute("SELECT version, checksum FROM public.schema_migrations").fetchall())
            for version, path in migration_files(directory):
                text = path.read_text(encoding="utf-8")
                checksum = hashlib.sha256(text.encode()).hexdigest()
                if version in done:
                    if done[version] != checksum:
                        raise MigrationError(
                            f"{path.name} was changed after it was applied; add a new migration instead"
                        )
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (version, path.name, checksum),
                    )
                log.info("applied migration %s", path.name)
                applied_now.append(path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("schema", choices=["warehouse", "alerts"], help="which sql/<schema>/ to apply")
    parser.add_argument("--dsn", help="database URL (default: $WAREHOUSE_DSN or $ALERTS_DB_DSN)")
    args = parser.parse_args(argv)
    env_name = "WAREHOUSE_DSN" if args.schema == "warehouse" else "ALERTS_DB_DSN"
    dsn = args.dsn or os.environ.get(env_name)
    if not dsn:
        parser.error(f"no --dsn and ${env_name} is not set")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        names = apply_migrations(dsn, SQL_ROOT / args.schema)
    except (MigrationError, psycopg.Error) as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    print(f"{args.schema}: {len(names)} migration(s) applied" + (f": {', '.join(names)}" if names else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
