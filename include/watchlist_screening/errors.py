"""The pipeline's one error base, so callers catch one thing and the task layer decides
retry-or-fail on one distinction.

A `PermanentError` says retrying cannot fix it (bad input, a day not yet normalised, a
request the alerting service refuses): the task layer turns it into AirflowFailException
in one place (orchestration/failures.py), and on-call gets the message at once instead of
after every retry. Any other error is left to the retry policy (orchestration/retry.py),
which retries only the transient kinds.
"""
from __future__ import annotations


class ScreeningError(Exception):
    """Something in the screening pipeline went wrong."""


class PermanentError(ScreeningError):
    """Retrying cannot fix it: the task fails at once with this message."""
