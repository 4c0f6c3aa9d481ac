"""Delivers outgoing webhooks from the outbox that the jobs trigger fills.

Each tick claims due deliveries (FOR UPDATE SKIP LOCKED, then hidden for a lease longer than the
request timeout, so N replicas never send the same attempt twice), POSTs them concurrently through
the SSRF guard, and records the outcome: 2xx is success; anything else retries with exponential
backoff until MAX_ATTEMPTS, then the delivery is failed and counts against its webhook's streak
(AUTO_DISABLE_AFTER failed deliveries in a row switch the webhook off).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import asyncpg
import httpx
import orjson

from ..services import ssrf, webhook_sender
from ..settings import Settings
from ..store import webhooks as store
from .base import Loop

log = logging.getLogger("spooled.webhooks")

MAX_ATTEMPTS = 5
AUTO_DISABLE_AFTER = 20
# A claimed delivery is invisible to other dispatchers this long (well above the 10 s timeout).
LEASE_SECS = 60.0


def doubling_backoff(base_secs: float) -> Callable[[int], float]:
    """Seconds before the next try after `attempt` failed tries: base, 2 x base, 4 x base, ..."""
    return lambda attempt: base_secs * 2 ** (attempt - 1)


class WebhookDispatcher(Loop):
    name = "webhook-dispatcher"

    def __init__(self, pool: asyncpg.Pool, settings: Settings, *, resolver: ssrf.Resolver | None = None,
                 backoff: Callable[[int], float] | None = None, clock: Callable[[], float] = time.time,
                 transport: httpx.AsyncBaseTransport | None = None, max_attempts: int = MAX_ATTEMPTS,
                 disable_after: int = AUTO_DISABLE_AFTER):
        super().__init__(settings.spooled_webhook_dispatch_interval_secs)
        self.pool = pool
        self.settings = settings
        self.resolver = resolver
        self.backoff = backoff or doubling_backoff(settings.spooled_webhook_retry_base_secs)
        self.clock = clock
        self.transport = transport
        self.max_attempts = max_attempts
        self.disable_after = disable_after
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env off: a proxy from the environment would bypass the pinned address.
            self._client = httpx.AsyncClient(transport=self.transport, follow_redirects=False,
                                             trust_env=False, timeout=webhook_sender.TIMEOUT_SECS)
        return self._client

    async def stop(self) -> None:
        await super().stop()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def run_once(self) -> int:
        async with self.pool.acquire() as conn:
            claimed = await store.claim_due(conn, self.settings.spooled_webhook_dispatch_batch, LEASE_SECS)
        if claimed:
            # Every delivery is awaited even when one fails: a failure (the database going away
            # while recording) leaves only that row to be retried when its claim lapses.
            outcomes = await asyncio.gather(*(self._deliver(row) for row in claimed), return_exceptions=True)
            for row, outcome in zip(claimed, outcomes):
                if isinstance(outcome, Exception):
                    log.warning("webhook delivery %s: could not be recorded: %s", row["id"], outcome)
        return len(claimed)

    async def _deliver(self, row) -> None:
        body = orjson.dumps(row["payload"])
        outcome = await webhook_sender.send(
            self._http(), row["target_url"], event=row["event"], body=body, secret=row["secret"],
            attempt=row["attempts"], delivery_id=row["id"],
            allow_loopback=self.settings.spooled_webhook_allow_loopback, resolver=self.resolver, clock=self.clock)
        async with self.pool.acquire() as conn, conn.transaction():
            if outcome.success:
                await store.record_success(conn, row["id"], outcome.status_code, outcome.response_body)
            elif row["attempts"] >= self.max_attempts:
                await store.record_failure(conn, row["id"], outcome.status_code, outcome.response_body,
                                           outcome.error, self.disable_after)
            else:
                await store.record_retry(conn, row["id"], outcome.status_code, outcome.response_body,
                                         outcome.error, self.backoff(row["attempts"]))
