"""One day: a passenger file per airport, with sightings, decoys and dirty lines planted at
random lines, and the truth files that say where they are.

The plan (which line holds what) is small and drawn first; the files are then streamed a
chunk of lines at a time, ordinary travellers drawn on the fly, so memory stays flat however
many passengers a file has.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from . import decoys, watchlist
from .generator_config import GeneratorConfig
from .dirty import KINDS, BadLine, render
from .passengers import scan_events, scan_id, travellers
from .rng import stream
from .sightings import assign_modes, sighting
from .world import structure_of
from .writer import encode, open_lines, open_rows, passenger_schema, rows_table, write_lines

LINES_PER_CHUNK = 8192
MIN_DECOYS_PER_FILE = 3  # of each kind whose rate (World.namesake_rate, look_alike_rate) is > 0


@dataclass
class FilePlan:
    airport: str
    path: str  # relative to the landing directory
    lines: int
    bad: dict[int, BadLine] = field(default_factory=dict)
    # Lines reserved for planted records, then the identity part planted on each.
    sighting_lines: list[int] = field(default_factory=list)
    namesake_lines: list[int] = field(default_factory=list)
    look_alike_lines: list[int] = field(default_factory=list)
    planted: dict[int, dict] = field(default_factory=dict)


@dataclass
class DayPlan:
    files: list[FilePlan]
    sightings: list[dict]  # truth lines
    decoys: list[dict]
    modes: Counter


def _lay_out(rng: np.random.Generator, config: GeneratorConfig, day: date, airport: str,
             bad_ids: np.ndarray, n_sightings: int) -> FilePlan:
    """Choose which lines of one file are dirty and which are reserved for planted records."""
    compress = airport in config.gzip_airports
    per_file = config.passengers_per_airport
    suffix = ".parquet" if config.format == "parquet" else ".jsonl" + (".gz" if compress else "")
    file = FilePlan(airport, f"passengers/{day.isoformat()}/{airport}{suffix}", per_file + len(bad_ids))
    bad_lines = rng.choice(np.arange(2, file.lines + 1), len(bad_ids), replace=False)
    free = np.setdiff1d(np.arange(2, file.lines + 1), bad_lines)
    room = (len(free) - n_sightings) // 2

    def count(rate: float) -> int:
        if not config.watchlist_size or not rate:
            return 0
        return min(max(MIN_DECOYS_PER_FILE, round(rate * per_file)), room)

    n_namesakes, n_look_alikes = count(config.world.namesake_rate), count(config.world.look_alike_rate)
    planted = rng.choice(free, n_sightings + n_namesakes + n_look_alikes, replace=False).tolist()
    file.sighting_lines = planted[:n_sightings]
    file.namesake_lines = planted[n_sightings:n_sightings + n_namesakes]
    file.look_alike_lines = planted[n_sightings + n_namesakes:]
    ordinary = np.setdiff1d(np.arange(1, file.lines + 1), np.append(bad_lines, planted))
    for i, line in zip(bad_ids.tolist(), bad_lines.tolist()):
        kind, repeated = KINDS[i % len(KINDS)], None
        if kind == "duplicate_scan_id":  # repeat an earlier ordinary line: line 1 at worst
            earlier = ordinary[: np.searchsorted(ordinary, line)]
            repeated = scan_id(airport, day, int(earlier[rng.integers(0, len(earlier))]))
        file.bad[line] = BadLine(line, kind, repeated)
    return file


def plan(config: GeneratorConfig, day: date) -> DayPlan:
    """Lay out every file of the day and make the records planted in them."""
    key = ("day", day.toordinal())
    rng = stream(config.seed, *key)
    n_files = len(config.airports)
    bad_file = rng.permutation(np.arange(config.bad_lines) % n_files)
    sighting_file = rng.permutation(np.arange(config.sightings) % n_files)
    files = [_lay_out(rng, config, day, airport, np.flatnonzero(bad_file == f),
                      int((sighting_file == f).sum()))
             for f, airport in enumerate(config.airports)]

    world = config.world
    n_namesakes = sum(len(f.namesake_lines) for f in files)
    n_decoys = n_namesakes + sum(len(f.look_alike_lines) for f in files)
    sighted = rng.choice(config.watchlist_size, config.sightings,
                         replace=config.sightings > config.watchlist_size)
    resembled = (rng.integers(0, config.watchlist_size, n_decoys) if n_decoys
                 else np.zeros(0, dtype=np.int64))
    found = watchlist.find(config.seed, config.watchlist_size, config.watchlist_duplicates_share,
                           np.append(sighted, resembled), world)
    wanted = [found[i] for i in sighted.tolist()]
    namesake_of = [found[i] for i in resembled[:n_namesakes].tolist()]
    look_alike_of = [found[i] for i in resembled[n_namesakes:].tolist()]

    # Decoys are drawn for the whole day, then handed out file by file in order: the
    # scanner noise of each follows from which file it lands in.
    def noise_of(kind: str) -> np.ndarray:
        return np.repeat([world.noise_at(f.airport) for f in files],
                         [len(getattr(f, f"{kind}_lines")) for f in files])

    structure = structure_of(world, config.seed)
    sighting_rng = stream(config.seed, *key, "sightings")
    modes = assign_modes(sighting_rng, wanted, world.mode_shares)
    seen = iter(zip(wanted, modes))
    decoy_rng = stream(config.seed, *key, "decoys")
    namesakes = iter(zip(namesake_of, decoys.namesakes(decoy_rng, namesake_of, day, world, structure,
                                                       noise_of("namesake"))))
    look_alikes = iter(zip(look_alike_of, decoys.look_alikes(decoy_rng, look_alike_of, day, world,
                                                             noise_of("look_alike"))))
    truth, decoy_truth = [], []
    for file in files:
        for line in sorted(file.sighting_lines):
            who, mode = next(seen)
            file.planted[line] = sighting(sighting_rng, who, mode, day, world,
                                          world.noise_at(file.airport))
            truth.append({"scan_id": scan_id(file.airport, day, line),
                          "subject_ids": list(who.subject_ids), "person_id": who.person_id})
        decoy_lines = [(line, "namesake", namesakes) for line in file.namesake_lines] + \
            [(line, "look_alike", look_alikes) for line in file.look_alike_lines]
        for line, kind, source in sorted(decoy_lines, key=lambda d: d[0]):
            who, identity = next(source)
            file.planted[line] = identity
            decoy_truth.append({"scan_id": scan_id(file.airport, day, line),
                                "subject_id": who.subject_id, "kind": kind})
    return DayPlan(files, truth, decoy_truth, Counter(modes))


def _records(config: GeneratorConfig, day: date, file: FilePlan) -> Iterator[tuple[list[dict], list[bytes | None]]]:
    """Chunks of the file's records, with the line each bad one is rendered as (None for
    the good ones, which are encoded as they are)."""
    structure = structure_of(config.world, config.seed)
    noise = config.world.noise_at(file.airport)
    rng = stream(config.seed, "day", day.toordinal(), "passengers", file.airport)
    bad_rng = stream(config.seed, "day", day.toordinal(), "bad", file.airport)
    for first in range(1, file.lines + 1, LINES_PER_CHUNK):
        lines = np.arange(first, min(first + LINES_PER_CHUNK, file.lines + 1))
        events = scan_events(rng, file.airport, day, lines, file.lines)
        people = travellers(rng, len(lines), day, config.world, structure, noise)
        records, rendered = [], []
        for line, event, person in zip(lines.tolist(), events, people):
            record = {**event, **file.planted.get(line, person)}
            bad = file.bad.get(line)
            records.append(record)
            rendered.append(render(bad, record, bad_rng) if bad else None)
        yield records, rendered


def _write_file(config: GeneratorConfig, day: date, file: FilePlan) -> None:
    if file.path.endswith(".parquet"):
        _write_parquet(config, day, file)
        return
    with open_lines(config.landing_dir / file.path, compress=file.path.endswith(".gz")) as out:
        for records, rendered in _records(config, day, file):
            encoded = [line if line is not None else encode(record) for record, line in zip(records, rendered)]
            encoded.append(b"")
            out.write(b"\n".join(encoded))


def _as_row(line: bytes) -> dict | None:
    """A bad line as the row a typed feed would send: its JSON object, or nothing at all
    (truncated or not JSON); values its column cannot hold are left out (writer._typed)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _write_parquet(config: GeneratorConfig, day: date, file: FilePlan) -> None:
    """The same records as the .jsonl would hold, one row per line (bad lines as rows that
    break the contract the same way where a typed column can): the same draws, so the
    same seed gives the same passengers in either format."""
    malformed = any(bad.kind == "malformed_date" for bad in file.bad.values())
    schema = passenger_schema(dates_as_text=malformed)
    with open_rows(config.landing_dir / file.path, schema) as writer:
        for records, rendered in _records(config, day, file):
            rows = [record if line is None else _as_row(line) for record, line in zip(records, rendered)]
            writer.write_table(rows_table(rows, schema))


def write(config: GeneratorConfig, day: date) -> dict:
    """Write the day's passenger and truth files; return what was written."""
    day_plan = plan(config, day)
    for file in day_plan.files:
        _write_file(config, day, file)
    # Regenerating a day replaces it: files left by an earlier run (another airport, or the
    # other of .jsonl/.jsonl.gz/.parquet) would otherwise be read as part of it.
    folder = config.landing_dir / "passengers" / day.isoformat()
    written = {config.landing_dir / file.path for file in day_plan.files}
    for stale in [*folder.glob("*.jsonl"), *folder.glob("*.jsonl.gz"), *folder.glob("*.parquet")]:
        if stale not in written:
            stale.unlink()
    truth = config.landing_dir / "truth"
    bad_lines = [{"file": file.path, "line": line, "kind": file.bad[line].kind}
                 for file in day_plan.files for line in sorted(file.bad)]
    write_lines(truth / f"{day.isoformat()}.jsonl", day_plan.sightings)
    write_lines(truth / f"{day.isoformat()}.bad_lines.jsonl", bad_lines)
    write_lines(truth / f"{day.isoformat()}.decoys.jsonl", day_plan.decoys)
    decoy_kinds = Counter(d["kind"] for d in day_plan.decoys)
    return {
        "date": day.isoformat(),
        "files": {file.path: file.lines for file in day_plan.files},
        "passengers": config.passengers_per_airport * len(day_plan.files),
        "sightings": len(day_plan.sightings),
        "sightings_by_mode": dict(sorted(day_plan.modes.items())),
        "namesakes": decoy_kinds["namesake"],
        "look_alikes": decoy_kinds["look_alike"],
        "bad_lines": len(bad_lines),
        "bad_lines_by_kind": dict(sorted(Counter(b["kind"] for b in bad_lines).items())),
    }
