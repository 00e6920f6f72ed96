"""A throw-away Airflow for end-to-end tests: its metadata in SQLite under a temporary
home, screening into a warehouse of the test's own."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def airflow_env(home: Path, warehouse_dsn: str, **settings: str) -> dict[str, str]:
    """The environment of an Airflow whose home is `home`, its database migrated, screening
    into `warehouse_dsn`; `settings` are added (WATCHLIST_* for the day's run)."""
    env = {**os.environ, "AIRFLOW_HOME": str(home),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           "WATCHLIST_MODEL_DIR": str(home / "models"),
           "AIRFLOW_CONN_WAREHOUSE_POSTGRES": warehouse_dsn, "WAREHOUSE_DSN": warehouse_dsn, **settings}
    subprocess.run(["bash", "-c", f"source {REPO_ROOT}/scripts/env.sh && airflow db migrate"], env=env,
                   check=True, capture_output=True)
    return env
