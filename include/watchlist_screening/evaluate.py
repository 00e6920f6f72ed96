"""Old import path of evaluation/screening_truth.py, kept only while bench/scenario_grid.py
still imports it (its owner switches it); delete this file then. `watchlist-evaluate` runs
the new module."""
import sys

from watchlist_screening.evaluation.screening_truth import (  # noqa: F401
    Evaluation, alert_pairs_from_service, evaluate, load_truth, main, match_pairs_from_warehouse,
)

if __name__ == "__main__":
    sys.exit(main())
