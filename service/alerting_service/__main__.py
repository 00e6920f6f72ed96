"""Run one replica: `python -m alerting_service --host 127.0.0.1 --port 8091`.

Configuration comes from the environment (see config.py); SIGTERM/SIGINT shut down
gracefully: no new connections, in-flight requests finish, then the pool closes.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import uvicorn

from alerting_service.app import create_app
from alerting_service.config import ConfigError, Settings
from alerting_service.logs import logging_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alerting_service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--grpc-port", type=int, default=None,
                        help="also serve the gRPC API on this port (default: $ALERTS_GRPC_PORT, else none)")
    parser.add_argument("--shutdown-timeout", type=float, default=20.0,
                        help="seconds in-flight requests get to finish on SIGTERM")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"alerting_service: {exc}", file=sys.stderr)
        return 2
    grpc_port = args.grpc_port if args.grpc_port is not None else settings.grpc_port
    settings = dataclasses.replace(settings, grpc_port=grpc_port, grpc_host=args.host)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=logging_config(settings.log_level),
        access_log=False,
        # Longer than the balancer's upstream keepalive_timeout (60s), so a replica never
        # closes an idle connection the balancer is about to reuse.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=args.shutdown_timeout,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        # A replica whose database never came up must exit, not serve 503s forever.
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
