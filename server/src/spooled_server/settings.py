"""Every environment variable the server reads, in one place."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server configuration; names match the public Spooled server's variables."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str | None = None
    database_max_connections: int = Field(default=20, ge=2, le=500)
    spooled_data_dir: str = ".spooled"
    # Port for the embedded PostgreSQL; 0 picks a free one on every start.
    spooled_embedded_pg_port: int = Field(default=0, ge=0, le=65535)

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    web_concurrency: int = Field(default=1, ge=1, le=64)

    rust_env: str = "development"
    jwt_secret: str = "development-secret-change-in-production"
    jwt_expiration_hours: int = Field(default=24, ge=1, le=8760)
    admin_api_key: str | None = None
    registration_mode: Literal["open", "closed", "invite"] = "open"

    worker_heartbeat_interval_secs: int = Field(default=10, ge=1)
    worker_lease_duration_secs: int = Field(default=30, ge=2)
    # A worker whose last heartbeat is older than this goes offline and its jobs are released.
    worker_stale_after_secs: int = Field(default=120, ge=2)
    queue_default_max_retries: int = Field(default=3, ge=0, le=100)
    queue_default_timeout_secs: int = Field(default=300, ge=1, le=86400)

    # Loop cadences. Short defaults: an expired lease must return its job within 2 s.
    spooled_reaper_interval_secs: float = Field(default=1.0, gt=0)
    spooled_activator_interval_secs: float = Field(default=1.0, gt=0)
    spooled_worker_sweep_interval_secs: float = Field(default=10.0, gt=0)
    spooled_scheduler_interval_secs: float = Field(default=1.0, gt=0)
    spooled_webhook_dispatch_interval_secs: float = Field(default=1.0, gt=0)
    # Backstop for dependents left waiting by a crash between a completion and its release.
    spooled_heal_interval_secs: float = Field(default=30.0, gt=0)
    # Ageing out of finished jobs and history by plan retention.
    spooled_retention_interval_secs: float = Field(default=600.0, gt=0)
    # Outgoing webhooks may target loopback only when this is on (tests, local development).
    spooled_webhook_allow_loopback: bool = False
    # Deliveries a dispatcher claims per tick, and the first retry delay (each later one doubles).
    spooled_webhook_dispatch_batch: int = Field(default=50, ge=1, le=1000)
    spooled_webhook_retry_base_secs: float = Field(default=1.0, gt=0)

    # Realtime streams. Events buffered per subscriber before it is cut off; keep-alive pings;
    # the longest an SSE stream lives; the reconnect delay SSE clients are told; the WebSocket
    # connections one organization may hold (per process); how long a blocked WebSocket send
    # (a client that stopped reading) may last before the client is cut off.
    spooled_event_queue_size: int = Field(default=1000, ge=1)
    spooled_sse_ping_secs: float = Field(default=15.0, gt=0)
    spooled_sse_max_secs: float = Field(default=1800.0, gt=0)
    spooled_sse_retry_ms: int = Field(default=1000, ge=0)
    spooled_ws_ping_secs: float = Field(default=30.0, gt=0)
    spooled_ws_max_per_org: int = Field(default=100, ge=1)
    spooled_ws_stall_secs: float = Field(default=10.0, gt=0)
    github_webhook_secret: str | None = None
    stripe_webhook_secret: str | None = None
    # gRPC listener; 0 disables it (tests start it on a free port where they need it).
    spooled_grpc_enabled: bool = True
    # Retry backoff unit in seconds: delay = min(2^retry_count, 60) units. 60 = minutes (reference).
    spooled_backoff_unit_secs: float = Field(default=60.0, gt=0)
    # Longest a claim may wait for work (long poll), in milliseconds.
    spooled_max_claim_wait_ms: int = Field(default=30_000, ge=0)

    # Largest request body accepted, in bytes (refused before it is read whole).
    spooled_max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Name of the organization `serve` creates on first start; its key is printed once.
    spooled_bootstrap_org_slug: str = "default-org"
    log_level: str = "info"
    # TEST ONLY: failpoints that kill the process right after a commit, before the response
    # (comma list, e.g. "complete.after_commit,enqueue.after_commit,claim.after_commit"; each
    # fires once per process). Empty in production; see failpoints.py.
    spooled_failpoints: str = ""

    @model_validator(mode="after")
    def _lease_exceeds_heartbeat(self) -> "Settings":
        if self.worker_lease_duration_secs <= self.worker_heartbeat_interval_secs:
            raise ValueError("WORKER_LEASE_DURATION_SECS must exceed WORKER_HEARTBEAT_INTERVAL_SECS")
        return self

    @property
    def is_production(self) -> bool:
        return self.rust_env == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
