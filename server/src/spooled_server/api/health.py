"""Health and liveness probes (no auth)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from .deps import core_of
from .responses import json

router = APIRouter(tags=["health"])


async def _database_ok(request: Request) -> bool:
    try:
        async with asyncio.timeout(2):
            async with core_of(request).pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        return True
    except Exception:
        return False


@router.get("/health", operation_id="health.get")
async def health(request: Request):
    ok = await _database_ok(request)
    from .. import __version__
    return json({"status": "healthy" if ok else "degraded", "database": ok, "cache": True,
                 "version": __version__})


@router.get("/health/live", operation_id="health.live")
async def live():
    return Response(status_code=200)


@router.get("/health/ready", operation_id="health.ready")
async def ready(request: Request):
    ok = await _database_ok(request)
    return json({"ready": ok, "database": ok}, 200 if ok else 503)
