"""What every end-to-end test module needs: a warehouse of its own (the Airflow that
screens into it: airflow_home.py)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def warehouse_dsn(stack_db):
    """A warehouse of this module alone: the session's shared one holds models other tests
    trained on other watchlists, and the DAG would (rightly) reuse the newest of them."""
    from tests.conftest import migrated_database

    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        yield dsn
