"""Load a generated landing day straight into DuckDB in the warehouse's shape, so linkage
unit tests run in seconds without Spark or Postgres (the loader lives in the package, the
linkage bench uses it too)."""
from watchlist_screening.linkage.jsonl_loader import load_generated_day

__all__ = ["load_generated_day"]
