"""/api/v1/dashboard: one-call overview of the caller's organization."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..services import dashboard as service
from ..services.auth import Caller
from .deps import caller, core_of
from .responses import json

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])


@router.get("", operation_id="dashboard.get")
async def get_dashboard(request: Request, who: Caller = Depends(caller)):
    return json(await service.overview(core_of(request), who.org_id))
