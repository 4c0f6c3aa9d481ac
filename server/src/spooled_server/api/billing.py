"""/api/v1/billing: hosted-service billing; self-hosted servers answer 501 after authenticating."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..services import billing as service
from ..services.auth import Caller
from .deps import caller

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])


@router.get("/status", operation_id="billing.status")
async def billing_status(who: Caller = Depends(caller)):
    return service.status(who.org_id)


@router.post("/portal", operation_id="billing.portal")
async def billing_portal(who: Caller = Depends(caller)):
    # The body ({return_url}) is not read: there is no portal to return from.
    return service.portal(who.org_id)
