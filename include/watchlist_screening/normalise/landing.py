"""Where the input files of a run are in the landing zone (see the data contract)."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

log = logging.getLogger(__name__)

WATCHLIST = "watchlist/watchlist.jsonl"
DAY_SUFFIXES = (".jsonl", ".jsonl.gz")


class LandingError(RuntimeError):
    """The landing zone does not hold what the contract promises (message names the file)."""


@dataclass(frozen=True)
class LandingFile:
    relative: str    # as stored in source_file, relative to the landing directory
    path: Path
    size: int

    @property
    def gzipped(self) -> bool:
        return self.relative.endswith(".gz")


def _landing_file(landing_dir: Path, path: Path) -> LandingFile:
    return LandingFile(path.relative_to(landing_dir).as_posix(), path, path.stat().st_size)


def watchlist_file(landing_dir: Path) -> LandingFile:
    path = landing_dir / WATCHLIST
    if not path.is_file():
        raise LandingError(f"watchlist snapshot {path} is missing")
    return _landing_file(landing_dir, path)


def day_files(landing_dir: Path, day: date) -> list[LandingFile]:
    """The day's airport files in name order; no folder means an empty day."""
    folder = landing_dir / "passengers" / day.isoformat()
    if not folder.is_dir():
        log.info("no folder %s: an empty day", folder)
        return []
    files, ignored = [], []
    for path in sorted(folder.iterdir()):
        (files if path.is_file() and path.name.endswith(DAY_SUFFIXES) else ignored).append(path)
    if ignored:
        log.warning("ignoring %d entries that are not *.jsonl or *.jsonl.gz files in %s: %s",
                    len(ignored), folder, ", ".join(p.name for p in ignored))
    return [_landing_file(landing_dir, path) for path in files]


def content_hash(file: LandingFile) -> str:
    digest = hashlib.sha256()
    with file.path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
