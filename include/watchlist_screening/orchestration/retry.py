"""Retry transient errors only: a database or network that is briefly away comes back,
bad data does not. Classes are matched by name over the exception's MRO, so the DAG
file imports none of the drivers at parse time."""
from __future__ import annotations

from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

TRANSIENT = {
    "psycopg.OperationalError": "database unreachable",
    "adbc_driver_manager.OperationalError": "database unreachable",
    "requests.exceptions.ConnectionError": "network error",
    "requests.exceptions.Timeout": "network timeout",
    "watchlist_screening.alerts.client.RetryableAlertError": "alerting service unreachable or busy",
}


def _names(exc: BaseException) -> list[str]:
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]


class TransientErrorsOnly(RetryPolicy):
    def evaluate(self, exception, try_number, max_tries, context=None) -> RetryDecision:
        for name in _names(exception):
            if name in TRANSIENT:
                return RetryDecision.retry(reason=f"transient: {TRANSIENT[name]}")
        return RetryDecision.fail(reason=f"not transient ({type(exception).__name__}): retrying cannot fix it")
