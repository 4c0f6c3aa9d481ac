"""Builds the FastAPI application; its lifespan owns the pool, the wake-up listener and the loops."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import db, failpoints
from .api import (admin, api_keys, auth, billing, dashboard, dependencies, dlq, events, health, ingest, jobs,
                  metrics, organizations, outgoing_webhooks, queues, schedules, workers, workflows, ws)
from .api.middleware import RequestContext
from .api.error_responses import render_error, render_unexpected
from .api.responses import json
from .errors import DomainError, MethodNotAllowed, NotFound, ValidationFailed
from .events.hub import EventHub
from .events.wakeups import WakeHub
from .loops.activator import DueJobActivator
from .loops.dependency_healer import DependencyHealer
from .grpc.server import GrpcServer
from .loops.reaper import LeaseReaper
from .loops.retention import RetentionLoop
from .loops.scheduler import CronScheduler
from .loops.webhook_dispatcher import WebhookDispatcher
from .loops.worker_sweeper import StaleWorkerSweeper
from .services.auth import Authenticator
from .services.core import Core
from .services.limits import LimitsCache
from .settings import Settings, get_settings

log = logging.getLogger("spooled.app")

def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, err: DomainError):
        return render_error(err)

    @app.exception_handler(RequestValidationError)
    async def query_error(_request: Request, err: RequestValidationError):
        details = [{"field": ".".join(str(p) for p in e["loc"] if p not in ("query", "path", "body")),
                    "message": e["msg"], "code": e["type"]} for e in err.errors()]
        return render_error(ValidationFailed("Validation failed", details))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException):
        if err.status_code == 405:
            return render_error(MethodNotAllowed("Method not allowed for this route"))
        if err.status_code == 404:
            return render_error(NotFound("Route not found"))
        return json({"code": "HTTP_ERROR", "message": str(err.detail)}, err.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, err: Exception):
        return render_unexpected(err)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    failpoints.configure(settings.spooled_failpoints)
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (use `spooled-server serve` for embedded PostgreSQL)")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await db.migrate(settings.database_url)
        pool = await db.create_pool(settings.database_url, settings.database_max_connections)
        wake = WakeHub(settings.database_url)
        core = Core(settings=settings, pool=pool, auth=Authenticator(pool, settings),
                    limits=LimitsCache(pool), wake=wake)
        app.state.core = core
        await wake.start()
        app.state.events = EventHub(settings.database_url, settings)
        await app.state.events.start()
        loops = [LeaseReaper(pool, settings.spooled_reaper_interval_secs),
                 DueJobActivator(pool, settings.spooled_activator_interval_secs),
                 StaleWorkerSweeper(pool, settings.spooled_worker_sweep_interval_secs,
                                    settings.worker_stale_after_secs),
                 CronScheduler(pool, settings.spooled_scheduler_interval_secs),
                 WebhookDispatcher(pool, settings),
                 DependencyHealer(pool, settings.spooled_heal_interval_secs),
                 RetentionLoop(pool, settings.spooled_retention_interval_secs)]
        for loop in loops:
            loop.start()
        grpc_server = GrpcServer(core)
        await grpc_server.start()
        try:
            yield
        finally:
            await grpc_server.stop()
            for loop in loops:
                await loop.stop()
            await app.state.events.stop()
            await wake.stop()
            await pool.close()

    app = FastAPI(title="Spooled", version="1.0.0", lifespan=lifespan, openapi_url=None,
                  docs_url=None, redoc_url=None)
    install_error_handlers(app)
    # Fixed paths under /jobs (dlq) must come before /jobs/{job_id}.
    for module in (health, metrics, auth, organizations, api_keys, dlq, jobs, dependencies, queues,
                   workers, schedules, workflows, outgoing_webhooks, ingest, events, ws, dashboard, admin,
                   billing):
        app.include_router(module.router)
    app.add_middleware(RequestContext, max_body_bytes=settings.spooled_max_body_bytes, api=app)
    return app
