"""Load a generated landing day straight into DuckDB in the warehouse's shape, so linkage
unit tests run in seconds without Spark or Postgres (the loader lives in the package, the
linkage bench uses it too), and the generate → load → candidates → train steps the
linkage tests share."""
from __future__ import annotations

from pathlib import Path

import duckdb

from watchlist_screening.linkage.jsonl_loader import load_generated_day

__all__ = ["generate_day", "load_generated_day", "trained_day"]

DAY = "2026-11-21"


def generate_day(root: Path, watchlist: int, per_airport: int, sightings: int, seed: int, *extra: str) -> Path:
    """A generated landing directory (two airports, day DAY) under `root`; `extra` are
    further generator arguments."""
    from watchlist_screening.generator.cli import main as generate

    assert generate(["--landing-dir", str(root), "--date", DAY, "--watchlist-size", str(watchlist),
                     "--airports", "LHR,CDG", "--passengers-per-airport", str(per_airport),
                     "--sightings", str(sightings), "--seed", str(seed), *extra]) == 0
    return root


def trained_day(landing: Path, config=None):
    """(connection with the day and its candidates loaded, counts, model, notes)."""
    from watchlist_screening.linkage import candidates, training

    con = duckdb.connect()
    counts = load_generated_day(con, landing, DAY)
    counts["candidate_pairs"] = candidates.build_candidates(con)
    model, notes = training.train(con, counts, config or training.TrainingConfig())
    return con, counts, model, notes
