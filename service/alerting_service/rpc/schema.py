"""The service's protobuf messages and gRPC stubs, compiled from the .proto at import time
with grpcio-tools (in memory: no generated file to commit, go stale, or need a writable
folder in a read-only image)."""
from __future__ import annotations

import sys
from pathlib import Path

import grpc

# service/proto in the repo; /app/proto in the image (service/Dockerfile copies it there).
PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
PROTO_FILE = "watchlist/alerts/v1/alerts.proto"
SERVICE_NAME = "watchlist.alerts.v1.Alerts"


def _load():
    # grpcio-tools resolves the .proto and its imports against sys.path (plus the
    # well-known types it ships), so the root is on it only while compiling.
    sys.path.insert(0, str(PROTO_ROOT))
    try:
        return grpc.protos_and_services(PROTO_FILE)
    finally:
        sys.path.remove(str(PROTO_ROOT))


pb, services = _load()
