"""Runtime configuration, read from the environment with local defaults that just work.

Inside Airflow the DAG resolves connections/variables and passes them down explicitly;
everything here is the fallback for CLIs, tests and the local stack (`.local/stack.env`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = Path(os.environ.get("WATCHLIST_LOCAL_DIR", REPO_ROOT / ".local"))


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_dsn: str
    alerts_url: str
    pipeline_token: str
    label_token: str | None
    model_dir: Path
    report_dir: Path
    # Where reviewers open report_dir's pages (the review page serves them); None: file:// links
    report_base_url: str | None
    match_threshold: float
    alert_batch_size: int
    max_quarantine_share: float
    model_max_age_days: int
    # "em" (every parameter estimated from the day, em_training.py) or "priors" (the
    # earlier trainer: stated m priors, some refined from data, training.py)
    training_method: str = "em"
    # How many false alerts one missed wanted person is worth: with calibrated
    # probabilities the default threshold is the Bayes decision 1 / (1 + miss_cost).
    miss_cost: float = 3.0

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            landing_dir=Path(_env("WATCHLIST_LANDING_DIR", str(LOCAL_DIR / "landing"))),
            warehouse_dsn=_env(
                "WAREHOUSE_DSN", "postgresql://pipeline@127.0.0.1:55432/warehouse"
            ),
            alerts_url=_env("ALERTS_URL", "http://127.0.0.1:8088"),
            pipeline_token=_env("ALERTS_PIPELINE_TOKEN", ""),
            label_token=_env("ALERTS_LABEL_TOKEN", "") or None,
            model_dir=Path(_env("WATCHLIST_MODEL_DIR", str(LOCAL_DIR / "models"))),
            report_dir=Path(_env("WATCHLIST_REPORT_DIR", str(LOCAL_DIR / "reports"))),
            report_base_url=_env("WATCHLIST_REPORT_BASE_URL", "") or None,
            match_threshold=float(_env("WATCHLIST_MATCH_THRESHOLD",
                                       str(round(1.0 / (1.0 + float(_env("WATCHLIST_MISS_COST", "3"))), 4)))),
            alert_batch_size=int(_env("WATCHLIST_ALERT_BATCH_SIZE", "200")),
            max_quarantine_share=float(_env("WATCHLIST_MAX_QUARANTINE_SHARE", "0.2")),
            model_max_age_days=int(_env("WATCHLIST_MODEL_MAX_AGE_DAYS", "30")),
            training_method=_env("WATCHLIST_TRAINING_METHOD", "em"),
            miss_cost=float(_env("WATCHLIST_MISS_COST", "3")),
        )
