"""Issue 13 on the file side: what a day's folder holds that is not an airport file is
reported (a file-level quarantine entry with its reason), never read, never followed."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import pytest

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.landing import (
    LandingChanged, LandingError, LandingFile, content_hash, day_listing, watchlist_file,
)
from watchlist_screening.normalise.raw_lines import line_blocks

DAY = date(2026, 3, 1)
FOLDER = "passengers/2026-03-01"


class Opened:
    """Paths opened by this process while recording (a sys audit hook: hooks cannot be
    removed, so one hook records into whichever recorder is active)."""
    active: "Opened | None" = None

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __enter__(self) -> "Opened":
        Opened.active = self
        return self

    def __exit__(self, *exc) -> None:
        Opened.active = None


def _audit(event: str, args: tuple) -> None:
    if Opened.active is not None and event in ("open", "os.open") and isinstance(args[0], (str, bytes, os.PathLike)):
        Opened.active.paths.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@pytest.fixture()
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    (root / FOLDER).mkdir(parents=True)
    return root


def test_every_entry_that_is_not_an_airport_file_is_reported_with_its_reason(landing, tmp_path):
    folder = landing / FOLDER
    secret = tmp_path / "stack.env"
    secret.write_text("PGPASSWORD=secret\n")
    (folder / "AMS.jsonl").write_text("{}\n")
    (folder / "CDG.jsonl.gz").write_bytes(b"")
    for name in ("L H R.jsonl", "..jsonl", "ams.jsonl", "MAD.json", "FRA.jsonl.bak", "ÄMS.jsonl", "AMSX.jsonl",
                 "LHR.jsonl\n", ".hidden"):
        (folder / name).write_text("secret too\n")
    (folder / "OSL.parquet").write_bytes(b"PAR1")
    (folder / "SUB").mkdir()
    (folder / "ZRH.jsonl").mkdir()
    (folder / "ZZZ.jsonl").symlink_to(secret)
    (folder / "DNG.jsonl").symlink_to(tmp_path / "nowhere")
    (folder / "UP.jsonl").symlink_to("..")
    os.mkfifo(folder / "PIP.jsonl")
    (folder / os.fsdecode(b"BAD\xff.jsonl")).write_text("x")   # a name that is not UTF-8

    with Opened() as opened:
        listing = day_listing(landing, DAY)
    # a Parquet file is an airport file: whether it can be read is parquet.py's to say
    assert [f.relative for f in listing.files] == [f"{FOLDER}/AMS.jsonl", f"{FOLDER}/CDG.jsonl.gz",
                                                   f"{FOLDER}/OSL.parquet"]
    assert {e.relative.split("/", 2)[2]: e.reason for e in listing.rejected} == {
        "L H R.jsonl": c.BAD_FILE_NAME, "..jsonl": c.BAD_FILE_NAME, "ams.jsonl": c.BAD_FILE_NAME,
        "MAD.json": c.BAD_FILE_NAME, "FRA.jsonl.bak": c.BAD_FILE_NAME, "ÄMS.jsonl": c.BAD_FILE_NAME,
        "AMSX.jsonl": c.BAD_FILE_NAME, "LHR.jsonl\n": c.BAD_FILE_NAME, ".hidden": c.BAD_FILE_NAME,
        "BAD\ufffd.jsonl": c.BAD_FILE_NAME, "SUB": c.NOT_A_FILE,
        "ZRH.jsonl": c.NOT_A_FILE, "PIP.jsonl": c.NOT_A_FILE, "ZZZ.jsonl": c.SYMBOLIC_LINK,
        "DNG.jsonl": c.SYMBOLIC_LINK, "UP.jsonl": c.SYMBOLIC_LINK}
    assert all(e.detail for e in listing.rejected)
    assert {e.relative.split("/", 2)[2]: e.detail for e in listing.rejected}["SUB"] == "not a regular file (a folder); not read"
    # Nothing but the airport files was opened (checked to be openable, not read).
    assert sorted(opened.paths) == sorted(str(f.path) for f in listing.files)


def _listing_as_nobody(landing: Path, day: date) -> list[tuple[str, str]]:
    """(relative, reason) of the rejected entries, listed by an unprivileged process (root
    opens any file): a forked child drops to uid 65534."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:   # pragma: no cover (runs in the child)
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            rejected = [(e.relative, e.reason) for e in day_listing(landing, day).rejected]
            os.write(write, json.dumps(rejected).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as stream:
        text = stream.read()
    os.waitpid(child, 0)
    return [tuple(entry) for entry in json.loads(text)]


def test_a_file_that_cannot_be_opened_is_reported():
    root = Path(tempfile.mkdtemp(prefix="feed-unreadable-"))
    try:
        root.chmod(0o755)
        landing = root / "landing"
        (landing / FOLDER).mkdir(parents=True)
        for folder in (landing, landing / "passengers", landing / FOLDER):
            folder.chmod(0o755)
        path = landing / FOLDER / "AMS.jsonl"
        path.write_text("{}\n")
        path.chmod(0)
        (landing / FOLDER / "CDG.jsonl").write_text("{}\n")
        (landing / FOLDER / "CDG.jsonl").chmod(0o644)
        expected = [(f"{FOLDER}/AMS.jsonl", c.UNREADABLE_FILE)]
        if os.geteuid() == 0:
            assert _listing_as_nobody(landing, DAY) == expected
        else:
            assert [(e.relative, e.reason) for e in day_listing(landing, DAY).rejected] == expected
        (landing / FOLDER).chmod(0o700)   # a day folder that cannot be listed: one entry for the day
        if os.geteuid() == 0:
            assert _listing_as_nobody(landing, DAY) == [(FOLDER, c.UNREADABLE_FILE)]
    finally:
        shutil.rmtree(root)


def test_a_linked_day_folder_is_not_followed(landing, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "AMS.jsonl").write_text("{}\n")
    (landing / "passengers" / "2026-03-02").symlink_to(elsewhere, target_is_directory=True)
    listing = day_listing(landing, date(2026, 3, 2))
    assert listing.files == []
    assert [(e.relative, e.reason) for e in listing.rejected] == [("passengers/2026-03-02", c.SYMBOLIC_LINK)]
    (landing / "passengers" / "2026-03-03").write_text("not a folder")
    assert [(e.relative, e.reason) for e in day_listing(landing, date(2026, 3, 3)).rejected] == [
        ("passengers/2026-03-03", c.NOT_A_FILE)]
    assert day_listing(landing, date(2026, 3, 4)) == day_listing(landing, date(2026, 3, 4)).__class__([], [])


def test_a_linked_passengers_folder_is_not_followed(tmp_path):
    real = tmp_path / "real"
    (real / "2026-03-01").mkdir(parents=True)
    (real / "2026-03-01" / "AMS.jsonl").write_text("{}\n")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "passengers").symlink_to(real, target_is_directory=True)
    listing = day_listing(landing, DAY)
    assert listing.files == [] and [(e.relative, e.reason) for e in listing.rejected] == [
        ("passengers", c.SYMBOLIC_LINK)]


def test_a_linked_watchlist_fails_the_run_naming_it(landing, tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text("{}\n")
    (landing / "watchlist").mkdir()
    (landing / "watchlist" / "watchlist.jsonl").symlink_to(secret)
    with pytest.raises(LandingError, match="watchlist.jsonl is a symbolic link, which is never followed"):
        watchlist_file(landing)
    (landing / "watchlist" / "watchlist.jsonl").unlink()
    (landing / "watchlist").rmdir()
    linked = tmp_path / "wl"
    linked.mkdir()
    (linked / "watchlist.jsonl").write_text("{}\n")
    (landing / "watchlist").symlink_to(linked, target_is_directory=True)
    with pytest.raises(LandingError, match="symbolic link"):
        watchlist_file(landing)


def test_a_file_swapped_for_a_link_after_the_listing_is_not_read(landing, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("PGPASSWORD=secret\n")
    path = landing / FOLDER / "AMS.jsonl"
    path.write_text("{}\n")
    [listed] = day_listing(landing, DAY).files
    os.link(path, tmp_path / "keep")   # the listed inode stays in use: a new file gets another
    path.unlink()
    path.symlink_to(secret)
    with pytest.raises(OSError):   # O_NOFOLLOW: ELOOP
        list(line_blocks(listed))
    path.unlink()
    path.write_text("{}\n")         # another file under the listed name
    with pytest.raises(LandingChanged, match="AMS.jsonl was replaced"):
        content_hash(listed)
    unlisted = LandingFile(listed.relative, path, 3)   # no identity: only the link check applies
    assert [b.lines for b in line_blocks(unlisted)] == [[b"{}"]]
