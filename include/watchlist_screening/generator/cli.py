"""Command line: python -m watchlist_screening.generator --date 2024-05-01 [...]; prints the
summary as one JSON line. `--world NAME` picks a named world (world.WORLDS) and
`--knob key=value` (repeatable) sets one of its knobs; `--list-worlds` prints them."""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import date
from pathlib import Path

from ..pipeline_settings import Settings
from .generator_config import GeneratorConfig
from .generate import generate
from .world import WORLDS, World, world_from


def _day(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _codes(text: str) -> tuple[str, ...]:
    return tuple(code.strip().upper() for code in text.split(",") if code.strip())


def parse_args(argv: list[str] | None) -> GeneratorConfig:
    defaults = GeneratorConfig(landing_dir=Path(), dates=())
    parser = argparse.ArgumentParser(
        prog="python -m watchlist_screening.generator",
        description="Write a synthetic landing directory (watchlist, passenger days, truth).")
    parser.add_argument("--landing-dir", type=Path, default=None,
                        help="default: WATCHLIST_LANDING_DIR or .local/landing")
    parser.add_argument("--date", type=_day, action="append", dest="dates",
                        help="passenger day to generate, YYYY-MM-DD; repeat for more days")
    parser.add_argument("--watchlist-size", type=int, default=defaults.watchlist_size)
    parser.add_argument("--airports", type=_codes, default=defaults.airports,
                        help=f"comma-separated IATA codes (default: {','.join(defaults.airports)})")
    parser.add_argument("--passengers-per-airport", type=int,
                        default=defaults.passengers_per_airport)
    parser.add_argument("--sightings", type=int, default=defaults.sightings,
                        help="sightings of wanted people per day")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--bad-lines", type=int, default=defaults.bad_lines,
                        help="dirty lines per day, spread over the day's files")
    parser.add_argument("--gzip-airports", type=_codes, default=(),
                        help="airports whose files are written as .jsonl.gz")
    parser.add_argument("--format", choices=("jsonl", "parquet"), default=defaults.format,
                        help="passenger files as JSON lines (default) or Parquet; the watchlist is JSONL either way")
    parser.add_argument("--watchlist-duplicates-share", type=float,
                        default=defaults.watchlist_duplicates_share,
                        help="share of watchlist entries that list an already listed person")
    parser.add_argument("--world", default="default", choices=sorted(WORLDS),
                        help="named world: the generator's distributions (default: default)")
    parser.add_argument("--knob", action="append", default=[], metavar="KEY=VALUE",
                        help="set one knob of the world, e.g. forged_dob=anywhere, "
                             "photo_sigma=0.3,0.9, airport_noise=CDG:1.8 (repeatable)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress lines on stderr (the summary still goes to stdout)")
    parser.add_argument("--list-worlds", action="store_true",
                        help="print the named worlds and their knobs as JSON and exit")
    args = parser.parse_args(argv)
    if args.list_worlds:
        json.dump({"knobs": {f: v for f, v in World().__dict__.items()},
                   "worlds": {name: w.changed() for name, w in WORLDS.items()}}, sys.stdout)
        sys.stdout.write("\n")
        raise SystemExit(0)
    if not args.dates:
        parser.error("the following arguments are required: --date")
    try:
        world = world_from(args.world, args.knob)
        return GeneratorConfig(
            landing_dir=args.landing_dir or Settings.from_env().landing_dir,
            dates=tuple(args.dates), watchlist_size=args.watchlist_size, airports=args.airports,
            passengers_per_airport=args.passengers_per_airport, sightings=args.sightings,
            seed=args.seed, bad_lines=args.bad_lines, gzip_airports=frozenset(args.gzip_airports),
            watchlist_duplicates_share=args.watchlist_duplicates_share, world=world, format=args.format)
    except ValueError as exc:
        parser.error(str(exc))


def _progress(message: str) -> None:
    print(f"[generate] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    quiet = "--quiet" in (sys.argv[1:] if argv is None else argv)
    config = parse_args(argv)
    started = time.perf_counter()
    summary = generate(config, progress=None if quiet else _progress)
    summary["elapsed_seconds"] = round(time.perf_counter() - started, 2)
    json.dump(summary, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
