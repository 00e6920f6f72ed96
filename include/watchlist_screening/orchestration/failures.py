"""The one place a PermanentError becomes Airflow's AirflowFailException.

Pipeline code raises PermanentError and knows nothing of Airflow; task bodies and the
sensor run inside `fail_permanent_errors`, so "fail now, do not retry" is decided here
and nowhere else."""
from __future__ import annotations

import functools
from contextlib import contextmanager

from watchlist_screening.errors import PermanentError


@contextmanager
def fail_permanent_errors():
    try:
        yield
    except PermanentError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def task_body(function):
    """A task body whose PermanentErrors fail the task instead of being retried."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        with fail_permanent_errors():
            return function(*args, **kwargs)

    return run
