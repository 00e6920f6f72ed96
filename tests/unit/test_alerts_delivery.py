"""delivery.client: WATCHLIST_ALERT_TRANSPORT picks the REST or the gRPC client; a wrong
value fails the task for good with a message that names the variable."""
from __future__ import annotations

import pytest

from watchlist_screening.alerts import delivery
from watchlist_screening.alerts.client import AlertClient
from watchlist_screening.errors import PermanentError


def test_rest_is_requests():
    with delivery.client("rest", "http://127.0.0.1:9", "t") as service:
        assert isinstance(service, AlertClient)


def test_grpc_is_the_grpc_transport():
    from watchlist_screening.alerts.grpc_transport import GrpcAlertClient

    with delivery.client("grpc", "http://127.0.0.1:9", "t", "127.0.0.1:9") as service:
        assert isinstance(service, GrpcAlertClient)


def test_grpc_without_an_address_is_permanent():
    with pytest.raises(PermanentError, match="grpc_port"):
        delivery.client("grpc", "http://127.0.0.1:9", "t", None)


def test_unknown_transport_is_permanent():
    with pytest.raises(PermanentError, match="WATCHLIST_ALERT_TRANSPORT"):
        delivery.client("carrier-pigeon", "http://127.0.0.1:9", "t")
