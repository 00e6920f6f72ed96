"""The replica's gRPC server: the Alerts service, the standard health service and server
reflection, on its own port, started and stopped by the app's lifespan (app.py)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from alerting_service import db
from alerting_service.rpc.schema import SERVICE_NAME, services
from alerting_service.rpc.servicer import AlertsServicer

log = logging.getLogger(__name__)
# How often the health service's per-service status follows the database (as /readyz).
HEALTH_SECONDS = 2.0
STOP_GRACE_SECONDS = 5.0


class GrpcServer:
    def __init__(self, server: grpc.aio.Server, port: int, watcher: asyncio.Task):
        self.server, self.port, self._watcher = server, port, watcher

    async def stop(self) -> None:
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher
        # In-flight calls get the grace period; watch streams are cancelled after it.
        await self.server.stop(STOP_GRACE_SECONDS)
        log.info("grpc server stopped", extra={"grpc_port": self.port})


async def start(state: Any, host: str, port: int) -> GrpcServer:
    """Serve on host:port (0: any free port, see .port) with the app's pool, tokens, limiter
    and metrics; raises if the port cannot be bound."""
    settings = state.settings
    server = grpc.aio.server(options=[
        # Never share a port silently with another process (gRPC's default on Linux).
        ("grpc.so_reuseport", 0),
        # The REST API's body limit: a bigger message is refused before it is decoded.
        ("grpc.max_receive_message_length", settings.max_body_bytes),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ])
    services.add_AlertsServicer_to_server(AlertsServicer(state), server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise RuntimeError(f"gRPC port {host}:{port} cannot be bound")
    await server.start()
    # The process serves (""), and the Alerts service as long as its database answers.
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    watcher = asyncio.create_task(_follow_database(state, checker))
    log.info("grpc server listening", extra={"grpc_port": bound})
    return GrpcServer(server, bound, watcher)


async def _follow_database(state: Any, checker: Any) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    while True:
        ready = await db.is_ready(state.pool, state.settings.ready_timeout_seconds)
        await checker.set(SERVICE_NAME, serving if ready else health_pb2.HealthCheckResponse.NOT_SERVING)
        await asyncio.sleep(HEALTH_SECONDS)
