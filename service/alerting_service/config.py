"""Service settings, read once from the environment at start-up."""
from __future__ import annotations

import os
from dataclasses import dataclass


class ConfigError(RuntimeError):
    pass


def _tokens(plural: str, singular: str) -> tuple[str, ...]:
    # The plural form allows rotation (old and new token valid together); the singular
    # one is what .local/stack.env exports.
    raw = ",".join(os.environ.get(name, "") for name in (plural, singular))
    return tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))


def _number(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise ConfigError(f"${name} must be a number, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    db_dsn: str
    pipeline_tokens: tuple[str, ...]
    reviewer_tokens: tuple[str, ...]
    # Optional: readers of decisions as training labels; reviewer tokens can read them too.
    label_tokens: tuple[str, ...] = ()
    pool_min_size: int = 1
    pool_max_size: int = 10
    db_wait_seconds: float = 60.0
    # Well below the balancer's read timeout: a replica that cannot reach the database
    # answers 503 soon enough for the balancer and the client to try again elsewhere.
    pool_timeout_seconds: float = 5.0
    ready_timeout_seconds: float = 2.0
    log_level: str = "INFO"
    # Per credential (or client address when there is none) and per replica. A fan-out
    # sends a few batches at a time and reviewers click, so only a runaway client meets it.
    rate_limit_per_second: float = 100.0
    rate_limit_burst: float = 200.0
    # Peers whose X-Forwarded-For/-Proto are believed (the balancer): they tell the client
    # address rate limits key on and whether the review cookie must be Secure.
    trusted_proxies: str = "127.0.0.1"
    # The pipeline's HTML reports (model and run reports), shared with it read-only; the
    # review page serves them to logged-in reviewers. Unset: no reports are served.
    report_dir: str | None = None
    # POST /v1/alerts bodies: a batch of the pipeline's 200 alerts is a few hundred KB; a
    # bigger body is refused with 413 before it is read whole.
    max_body_bytes: int = 4 * 1024 * 1024
    # The gRPC API's port on this replica (rpc/), beside the REST port; None: REST only.
    grpc_port: int | None = None
    grpc_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> "Settings":
        dsn = os.environ.get("ALERTS_DB_DSN", "")
        if not dsn:
            raise ConfigError("$ALERTS_DB_DSN is not set")
        pipeline = _tokens("ALERTS_PIPELINE_TOKENS", "ALERTS_PIPELINE_TOKEN")
        reviewer = _tokens("ALERTS_REVIEWER_TOKENS", "ALERTS_REVIEWER_TOKEN")
        # Fail closed: a replica without tokens would be either useless or open.
        if not pipeline:
            raise ConfigError("no pipeline token: set $ALERTS_PIPELINE_TOKENS or $ALERTS_PIPELINE_TOKEN")
        if not reviewer:
            raise ConfigError("no reviewer token: set $ALERTS_REVIEWER_TOKENS or $ALERTS_REVIEWER_TOKEN")
        return cls(
            db_dsn=dsn,
            pipeline_tokens=pipeline,
            reviewer_tokens=reviewer,
            label_tokens=_tokens("ALERTS_LABEL_TOKENS", "ALERTS_LABEL_TOKEN"),
            pool_min_size=int(_number("ALERTS_DB_POOL_MIN", cls.pool_min_size)),
            pool_max_size=int(_number("ALERTS_DB_POOL_MAX", cls.pool_max_size)),
            db_wait_seconds=_number("ALERTS_DB_WAIT_SECONDS", cls.db_wait_seconds),
            pool_timeout_seconds=_number("ALERTS_DB_POOL_TIMEOUT_SECONDS", cls.pool_timeout_seconds),
            ready_timeout_seconds=_number("ALERTS_READY_TIMEOUT_SECONDS", cls.ready_timeout_seconds),
            log_level=os.environ.get("ALERTS_LOG_LEVEL", cls.log_level).upper(),
            rate_limit_per_second=_number("ALERTS_RATE_LIMIT_PER_SECOND", cls.rate_limit_per_second),
            rate_limit_burst=_number("ALERTS_RATE_LIMIT_BURST", cls.rate_limit_burst),
            trusted_proxies=os.environ.get("ALERTS_TRUSTED_PROXIES", cls.trusted_proxies),
            report_dir=os.environ.get("ALERTS_REPORT_DIR") or None,
            max_body_bytes=int(_number("ALERTS_MAX_BODY_BYTES", cls.max_body_bytes)),
            grpc_port=int(_number("ALERTS_GRPC_PORT", -1)) if os.environ.get("ALERTS_GRPC_PORT") else None,
        )

    def __repr__(self) -> str:
        # Settings end up in tracebacks and debug output; the DSN holds a password.
        return (
            f"Settings(pipeline_tokens={len(self.pipeline_tokens)}, reviewer_tokens={len(self.reviewer_tokens)}, "
            f"label_tokens={len(self.label_tokens)}, pool={self.pool_min_size}..{self.pool_max_size}, "
            f"rate_limit={self.rate_limit_per_second:g}/s burst {self.rate_limit_burst:g}, log_level={self.log_level})"
        )
