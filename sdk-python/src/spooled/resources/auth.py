"""client.auth: exchange an API key for JWTs, refresh, inspect and revoke them.

These are plain calls; to have the client itself authenticate with a JWT, construct it with
use_jwt=True (see the README).
"""

from __future__ import annotations

from .._wire import Call, model_reader, path, read_nothing, to_body
from ..generated.models import (AuthTokens, EmailCheckResponse, EmailLoginStartResponse, LoginRequest,
                                MeResponse, RefreshRequest, RefreshResponse, ValidateTokenRequest,
                                ValidateTokenResponse)
from ._base import Params, Resource


class AuthResource(Resource):
    """Auth: /api/v1/auth/*."""

    def login(self, params: Params) -> AuthTokens:
        """Exchanges an API key for an access and a refresh token (POST /auth/login): api_key."""
        return self._call(Call("POST", path("/auth/login"), model_reader(AuthTokens),
                               body=to_body(LoginRequest, params), auth="none", replay_safe=True))

    def refresh(self, params: Params) -> RefreshResponse:
        """A new access token from a refresh token (POST /auth/refresh): refresh_token."""
        return self._call(Call("POST", path("/auth/refresh"), model_reader(RefreshResponse),
                               body=to_body(RefreshRequest, params), auth="none", replay_safe=True))

    def logout(self) -> None:
        """Revokes the JWT the client is using (POST /auth/logout)."""
        return self._call(Call("POST", path("/auth/logout"), read_nothing, body={}, replay_safe=True))

    def me(self) -> MeResponse:
        """Claims of the JWT the client is using (GET /auth/me)."""
        return self._call(Call("GET", path("/auth/me"), model_reader(MeResponse)))

    def validate(self, params: Params) -> ValidateTokenResponse:
        """Whether a token is valid, and its claims (POST /auth/validate): token."""
        return self._call(Call("POST", path("/auth/validate"), model_reader(ValidateTokenResponse),
                               body=to_body(ValidateTokenRequest, params), auth="none", replay_safe=True))

    def start_email_login(self, email: str) -> EmailLoginStartResponse:
        """Emails a login code; hosted service only (POST /auth/email/start)."""
        return self._call(Call("POST", path("/auth/email/start"), model_reader(EmailLoginStartResponse),
                               body={"email": email}, auth="none"))

    def verify_email(self, email: str, code: str) -> AuthTokens:
        """Exchanges an emailed code for tokens; hosted service only (POST /auth/email/verify)."""
        return self._call(Call("POST", path("/auth/email/verify"), model_reader(AuthTokens),
                               body={"email": email, "code": code}, auth="none"))

    def check_email(self, email: str) -> EmailCheckResponse:
        """Whether an email has an account; hosted service only (GET /auth/email/check)."""
        return self._call(Call("GET", path("/auth/email/check"), model_reader(EmailCheckResponse),
                               query={"email": email}, auth="none"))
