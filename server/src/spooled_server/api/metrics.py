"""/metrics: Prometheus text exposition (no authentication on the main port)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..metrics import REGISTRY
from ..services import gauges
from .deps import core_of

router = APIRouter(prefix="", tags=["metrics"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/metrics", operation_id="metrics.get")
async def metrics(request: Request):
    text = REGISTRY.render(await gauges.collect(core_of(request)))
    return Response(text, headers={"content-type": CONTENT_TYPE})
