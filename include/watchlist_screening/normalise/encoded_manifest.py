"""The encoded landing zone's manifest (`encoding.json`) and the key bookkeeping in the
warehouse: which mode a watchlist version and a day were loaded in, under which key.

CLKs and templates made with two different secrets never agree, so a day encoded with
another key than its watchlist would screen silently to zero matches. The manifest's key
fingerprint (HMAC of a fixed text under the secret, never the secret) is recorded with
the watchlist version it was loaded under and with each day, and a day whose key is not
its watchlist's fails the run, naming both fingerprints.

`watchlist/encoding.json`, when present, is the watchlist's own manifest (the list and
the airports' files may be encoded by different parties); else the landing zone's.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from watchlist_screening.normalise.landing import LandingError

MANIFEST = "encoding.json"
WATCHLIST_MANIFEST = "watchlist/encoding.json"
LINKAGE_SCHEMA = "watchlist-pprl"
VERSION = 1
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_MAX_BYTES = 64 << 10


class ManifestError(LandingError):
    """The manifest is missing or does not say what the pipeline reads (message names the file)."""


class KeyMismatch(LandingError):
    """A day and its watchlist were encoded under different secrets."""


@dataclass(frozen=True)
class Manifest:
    path: str              # relative to the landing directory
    key_fingerprint: str


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise ManifestError(f"{path}: missing; an encoded landing zone needs its manifest "
                            f"(linkage_schema, version, key_fingerprint)") from None
    except OSError as error:   # a link (O_NOFOLLOW), a folder, no permission
        raise ManifestError(f"{path}: cannot be read as a regular file ({error.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(_MAX_BYTES + 1)


def read_manifest(landing_dir: Path, relative: str = MANIFEST) -> Manifest:
    """The manifest at `relative`, checked; ManifestError naming the file and field."""
    path = landing_dir / relative
    raw = _read(path)
    if len(raw) > _MAX_BYTES:
        raise ManifestError(f"{path}: larger than {_MAX_BYTES} bytes, not a manifest")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ManifestError(f"{path}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: must be a JSON object")
    if value.get("linkage_schema") != LINKAGE_SCHEMA:
        raise ManifestError(f"{path}: field 'linkage_schema' must be '{LINKAGE_SCHEMA}', "
                            f"got {value.get('linkage_schema')!r}")
    if value.get("version") != VERSION or isinstance(value.get("version"), bool):
        raise ManifestError(f"{path}: field 'version' must be {VERSION}, got {value.get('version')!r} "
                            "(this pipeline reads watchlist-pprl/1)")
    fingerprint = value.get("key_fingerprint")
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        raise ManifestError(f"{path}: field 'key_fingerprint' must be 16 lower-case hex digits, got {fingerprint!r}")
    return Manifest(relative, fingerprint)


def watchlist_manifest(landing_dir: Path) -> Manifest:
    """The watchlist's own manifest when it has one, else the landing zone's."""
    if (landing_dir / WATCHLIST_MANIFEST).exists() or (landing_dir / WATCHLIST_MANIFEST).is_symlink():
        return read_manifest(landing_dir, WATCHLIST_MANIFEST)
    return read_manifest(landing_dir)


def record_watchlist_key(conninfo: str, version: int, manifest: Manifest) -> None:
    """Marks a version this run published as encoded under the manifest's key. A version
    published by someone else keeps what they recorded (check_watchlist_key compares)."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("""UPDATE warehouse.watchlist_versions SET privacy_mode = 'encoded', key_fingerprint = %s
                        WHERE version_id = %s AND key_fingerprint IS NULL""", (manifest.key_fingerprint, version))


def watchlist_key(conninfo: str, version: int) -> tuple[str, str | None]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT privacy_mode, key_fingerprint FROM warehouse.watchlist_versions "
                           "WHERE version_id = %s", (version,)).fetchone()
    if row is None:
        raise LandingError(f"watchlist version {version} is not in warehouse.watchlist_versions")
    return row[0], row[1]


def check_same_key(version: int, watchlist_mode: str, watchlist_fingerprint: str | None, day: date | str,
                   day_manifest: Manifest) -> None:
    """KeyMismatch unless the watchlist version was loaded encoded under the day's key."""
    if watchlist_mode != "encoded" or watchlist_fingerprint is None:
        raise KeyMismatch(f"watchlist version {version} was loaded in {watchlist_mode} mode, not encoded: "
                          f"an encoded day ({day}) can only be screened against an encoded watchlist")
    if watchlist_fingerprint != day_manifest.key_fingerprint:
        raise KeyMismatch(
            f"encoding keys differ: the watchlist (version {version}) was encoded under key fingerprint "
            f"{watchlist_fingerprint}, the passengers of {day} ({day_manifest.path}) under "
            f"{day_manifest.key_fingerprint}. Their CLKs and templates cannot be compared: re-encode one side "
            f"with the other's secret (privacy.encode), then re-run the day")


def record_day_mode(conninfo: str, day: date, mode: str, fingerprint: str | None) -> None:
    """The mode (and key) the day was just loaded in; a clear re-run of an encoded day
    clears the key again."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE warehouse.day_runs SET privacy_mode = %s, key_fingerprint = %s WHERE scan_day = %s",
                     (mode, fingerprint, day))
