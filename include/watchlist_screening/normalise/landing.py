"""Where the input files of a run are in the landing zone (see the data contract), and
what in a day's folder is not read.

Feeds are written by other parties, so nothing in the landing zone is trusted to point
where it seems to:

- A symbolic link is never followed: not in a day's folder (a link `ZZZ.jsonl` to a
  secret once copied it into the quarantine), not as the day's folder itself or as
  `passengers/`, not as the watchlist. Files are opened with O_NOFOLLOW, and the reading
  task checks it opened the file that was listed (device and inode), so a file swapped
  for a link after the listing is not read either.
- Every entry of a day's folder that is not a regular file named `<IATA>.jsonl`,
  `<IATA>.jsonl.gz` or `<IATA>.parquet` is a file-level quarantine entry with its reason
  (RejectedEntry): a link, a sub-folder, any other name, a file that cannot be opened.
  Its content is never read. (A Parquet file whose footer cannot be read is one too:
  parquet.py.)
- A day's folder that is a link or not a folder is one such entry: the day is screened
  as empty, and the entry says why.
- The watchlist is not a feed: a run cannot screen without it, so a watchlist that is a
  link (or under a linked folder), or not a regular file, fails the run like a missing
  one (LandingError), naming the path.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from watchlist_screening.normalise import contract as c

log = logging.getLogger(__name__)

WATCHLIST = "watchlist/watchlist.jsonl"
DAY_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")
# fullmatch, ASCII only: '..jsonl', 'ams.jsonl', 'L H R.jsonl', 'FRA.jsonl.bak' do not match
AIRPORT_FILE = re.compile(r"([A-Z]{3})\.(jsonl|jsonl\.gz|parquet)")
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class LandingError(RuntimeError):
    """The landing zone does not hold what the contract promises (message names the file)."""


class LandingChanged(LandingError):
    """A listed file is not the one found when reading it (replaced, or swapped for a link)."""


@dataclass(frozen=True)
class LandingFile:
    relative: str    # as stored in source_file, relative to the landing directory
    path: Path
    size: int
    identity: tuple[int, int] | None = None   # (st_dev, st_ino) when listed

    @property
    def gzipped(self) -> bool:
        return self.relative.endswith(".gz")

    @property
    def parquet(self) -> bool:
        """Rows in columns (parquet.py), not lines (raw_lines.py)."""
        return self.relative.endswith(".parquet")


@dataclass(frozen=True)
class RejectedEntry:
    """An entry of a day's folder that is not read: a file-level quarantine entry."""
    relative: str
    reason: str
    detail: str


@dataclass(frozen=True)
class DayListing:
    files: list[LandingFile]          # the airport files to read, in name order
    rejected: list[RejectedEntry]     # everything else in the folder, in name order


def open_landing_file(file: LandingFile) -> BinaryIO:
    """The file for reading, never through a link; the very file that was listed."""
    fd = os.open(file.path, _READ_FLAGS)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise LandingChanged(f"{file.relative} is no longer a regular file")
        if file.identity is not None and (found.st_dev, found.st_ino) != file.identity:
            raise LandingChanged(f"{file.relative} was replaced after the day's folder was listed; re-run the day")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _text(name: str) -> str:
    """A file name as text PostgreSQL can store (names are bytes: not always UTF-8)."""
    return os.fsencode(name).decode("utf-8", errors="replace")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _entry_problem(path: Path, name: str, mode: int) -> tuple[str, str] | None:
    """Why a folder entry (by its lstat mode) is not read, or None for an airport file."""
    if stat.S_ISLNK(mode):
        return c.SYMBOLIC_LINK, c.SYMBOLIC_LINK_DETAIL
    if not stat.S_ISREG(mode):
        return c.NOT_A_FILE, c.NOT_A_FILE_DETAIL.format(kind=_kind(mode))
    found = AIRPORT_FILE.fullmatch(name)
    if not found:
        return c.BAD_FILE_NAME, c.BAD_FILE_NAME_DETAIL
    try:   # opened, not read: a file no task could open is reported, not a failed day
        os.close(os.open(path, _READ_FLAGS | os.O_NONBLOCK))
    except OSError as error:
        return c.UNREADABLE_FILE, c.UNREADABLE_FILE_DETAIL.format(error=error.strerror or error)
    return None


def folder_listing(folder: Path, relative_to: Path) -> DayListing:
    """The airport files of a day's folder and the entries that are not read; an absent
    folder is an empty day. Nothing is followed or read (lstat, one open per file)."""
    relative = _text(folder.relative_to(relative_to).as_posix())
    try:
        mode = folder.lstat().st_mode
    except FileNotFoundError:
        return DayListing([], [])
    if stat.S_ISLNK(mode):
        return DayListing([], [RejectedEntry(relative, c.SYMBOLIC_LINK, c.SYMBOLIC_LINK_DETAIL)])
    if not stat.S_ISDIR(mode):
        return DayListing([], [RejectedEntry(relative, c.NOT_A_FILE, c.NOT_A_FOLDER_DETAIL)])
    try:
        with os.scandir(folder) as entries:
            names = sorted((entry.name for entry in entries), key=os.fsencode)
    except OSError as error:
        return DayListing([], [RejectedEntry(relative, c.UNREADABLE_FILE,
                                             c.UNREADABLE_FILE_DETAIL.format(error=error.strerror or error))])
    files, rejected = [], []
    for name in names:
        path = folder / name
        try:
            info = path.lstat()
        except FileNotFoundError:   # gone since the listing: as if never there
            continue
        problem = _entry_problem(path, name, info.st_mode)
        if problem:
            rejected.append(RejectedEntry(f"{relative}/{_text(name)}", *problem))
        else:
            files.append(LandingFile(f"{relative}/{name}", path, info.st_size, (info.st_dev, info.st_ino)))
    return DayListing(files, rejected)


def day_folder(landing_dir: Path, day: date) -> Path:
    return landing_dir / "passengers" / day.isoformat()


def day_listing(landing_dir: Path, day: date) -> DayListing:
    """What a day's folder holds: the airport files to read, and the entries reported
    instead (a linked `passengers/` folder counts as the day's folder being a link)."""
    passengers = landing_dir / "passengers"
    if passengers.is_symlink():
        return DayListing([], [RejectedEntry("passengers", c.SYMBOLIC_LINK, c.SYMBOLIC_LINK_DETAIL)])
    listing = folder_listing(day_folder(landing_dir, day), landing_dir)
    if not listing.files and not listing.rejected:
        log.info("no files in %s: an empty day", day_folder(landing_dir, day))
    for entry in listing.rejected:
        log.warning("%s is not read: %s (%s)", entry.relative, entry.reason, entry.detail)
    return listing


def day_files(landing_dir: Path, day: date) -> list[LandingFile]:
    """The day's airport files in name order; no folder means an empty day."""
    return day_listing(landing_dir, day).files


def watchlist_file(landing_dir: Path) -> LandingFile:
    path = landing_dir / WATCHLIST
    for step in (path.parent, path):
        try:
            mode = step.lstat().st_mode
        except FileNotFoundError:
            raise LandingError(f"watchlist snapshot {path} is missing") from None
        if stat.S_ISLNK(mode):
            raise LandingError(f"watchlist snapshot: {step} is a symbolic link, which is never followed; "
                               "deliver the snapshot as a regular file")
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise LandingError(f"watchlist snapshot {path} is not a regular file")
    return LandingFile(WATCHLIST, path, info.st_size, (info.st_dev, info.st_ino))


def content_hash(file: LandingFile) -> str:
    digest = hashlib.sha256()
    with open_landing_file(file) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
