"""The pipeline's one settings object: every WATCHLIST_*, SPARK_*, alerting and on-call
variable is read here and nowhere else, with local defaults that just work.

A task (or a CLI) reads it once, `Settings.from_env()`, and passes it down, so a reader
finds every knob and its default in one place and a test sets one object instead of
patching the environment under a function's feet. Inside Airflow, connections and
variables come first (orchestration/connections.py); these values are the fallback for
CLIs, tests and the local stack (`.local/stack.env`).
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


def _path_or_none(name: str, default: Path) -> Path | None:
    """A directory setting that an empty value turns off."""
    value = os.environ.get(name)
    if value is None:
        return default
    return Path(value) if value.strip() else None


def _optional(name: str) -> str | None:
    return os.environ.get(name) or None


# "clear": the landing zone holds names, dates and raw embeddings (the data contract);
# "encoded": it holds the edge encoder's keyed Bloom filters and protected face templates
# (issue 17, docs/encoded-contract/) and the warehouse never sees a clear identity.
PRIVACY_MODES = ("clear", "encoded")


def privacy_mode(value: str | None) -> str:
    """`value` checked against PRIVACY_MODES (None: "clear"); a wrong one names the knobs."""
    mode = (value or "clear").strip().lower()
    if mode not in PRIVACY_MODES:
        raise ValueError(f"privacy mode (WATCHLIST_PRIVACY_MODE or the DAG param 'privacy_mode') must be one of "
                         f"{', '.join(PRIVACY_MODES)}, got {value!r}")
    return mode


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
    # None: the caller's default ("duckdb"); validated where the engine is chosen
    linkage_engine: str | None = None
    # None: GroupingConfig's defaults
    grouping_method: str | None = None
    grouping_scope: str | None = None
    # Only an explicitly set WATCHLIST_MATCH_THRESHOLD overrides the grouping's own
    # default; the derived (miss-cost) threshold is match_threshold's business.
    match_threshold_set: float | None = None
    spark_master: str = "local[*]"
    spark_checkpoint_dir: str | None = None
    oncall_webhook: str | None = None
    # 0 turns the missed-deadline page off
    deadline_hours: float = 9.0
    landing_poll_seconds: float = 300.0
    local_dir: Path = LOCAL_DIR
    # how the fan-out reaches the alerting service: "rest" (requests, the default) or
    # "grpc" (alerts/grpc_transport.py, the balancer's gRPC port)
    alert_transport: str = "rest"
    alerts_grpc_target: str = "127.0.0.1:8089"
    # PRIVACY_MODES; the DAG param 'privacy_mode' overrides it per run
    privacy_mode: str = "clear"
    # the photo search's blocks (linkage/candidates.py, physique_blocks.py): "auto" (sex
    # blocks for a full-scale day's search, none for smaller ones), "none" or "sex"
    photo_blocking: str = "auto"
    # where the day's candidate pairs wait between training and scoring; None: not kept
    candidate_cache_dir: Path | None = LOCAL_DIR / "candidate-cache"
    # the linkage's DuckDB buffer budget (GB) and where it spills past it: DuckDB's own
    # default, 80% of RAM, leaves the photo search's arrays and the other tasks nothing
    duckdb_memory_gb: float = 6.0
    duckdb_spill_dir: Path = LOCAL_DIR / "duckdb-spill"

    @classmethod
    def from_env(cls) -> "Settings":
        explicit_threshold = _optional("WATCHLIST_MATCH_THRESHOLD")
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
            linkage_engine=_optional("WATCHLIST_LINKAGE_ENGINE"),
            grouping_method=_optional("WATCHLIST_GROUPING_METHOD"),
            grouping_scope=_optional("WATCHLIST_GROUPING_SCOPE"),
            match_threshold_set=float(explicit_threshold) if explicit_threshold else None,
            spark_master=os.environ.get("SPARK_MASTER", "local[*]"),
            spark_checkpoint_dir=_optional("SPARK_CHECKPOINT_DIR"),
            oncall_webhook=_optional("WATCHLIST_ONCALL_WEBHOOK"),
            deadline_hours=float(os.environ.get("WATCHLIST_DEADLINE_HOURS", "9")),
            landing_poll_seconds=float(os.environ.get("WATCHLIST_LANDING_POLL_SECONDS", "300")),
            local_dir=LOCAL_DIR,
            alert_transport=_env("WATCHLIST_ALERT_TRANSPORT", "rest").strip().lower(),
            alerts_grpc_target=_env("ALERTS_GRPC_TARGET", "127.0.0.1:8089"),
            privacy_mode=_env("WATCHLIST_PRIVACY_MODE", "clear").strip().lower(),
            photo_blocking=_env("WATCHLIST_PHOTO_BLOCKING", "auto").strip().lower(),
            candidate_cache_dir=_path_or_none("WATCHLIST_CANDIDATE_CACHE_DIR", LOCAL_DIR / "candidate-cache"),
            duckdb_memory_gb=float(_env("WATCHLIST_DUCKDB_MEMORY_GB", "6")),
            duckdb_spill_dir=Path(_env("WATCHLIST_DUCKDB_SPILL_DIR", str(LOCAL_DIR / "duckdb-spill"))),
        )
