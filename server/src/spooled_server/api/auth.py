"""/api/v1/auth: JWTs from API keys, refresh, logout, introspection; email login stubs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..services import sessions as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, client_address, core_of
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LoginBody(Body):
    api_key: str = Field(min_length=10, max_length=4096)


class RefreshBody(Body):
    refresh_token: str = Field(min_length=10, max_length=8192)


class ValidateBody(Body):
    token: str = Field(max_length=8192)


@router.post("/login", operation_id="auth.login")
async def login(request: Request):
    body = await read_body(request, LoginBody)
    return json(await service.login(core_of(request), body.api_key, client_address(request)))


@router.post("/refresh", operation_id="auth.refresh")
async def refresh(request: Request):
    body = await read_body(request, RefreshBody)
    return json(await service.refresh(core_of(request), body.refresh_token, client_address(request)))


@router.post("/logout", operation_id="auth.logout")
async def logout(request: Request, who: Caller = Depends(caller)):
    # Any body (some SDKs send the refresh token) is ignored.
    await service.logout(core_of(request), who)
    return no_content()


@router.get("/me", operation_id="auth.me")
async def me(who: Caller = Depends(caller)):
    return json(service.me(who))


@router.post("/validate", operation_id="auth.validate")
async def validate(request: Request):
    body = await read_body(request, ValidateBody)
    return json(await service.validate(core_of(request), body.token))


# Email login exists only on the hosted service; these paths answer 404 with the envelope.
@router.post("/email/start", operation_id="auth.startEmailLogin")
async def email_start():
    service.email_login_unavailable()


@router.post("/email/verify", operation_id="auth.verifyEmail")
async def email_verify():
    service.email_login_unavailable()


@router.get("/email/check", operation_id="auth.checkEmail")
async def email_check():
    service.email_login_unavailable()


@router.get("/check-email", operation_id="auth.checkEmailAlt")
async def check_email():
    service.email_login_unavailable()
