"""/api/v1/billing: authenticated first, then 501 NOT_IMPLEMENTED on a self-hosted server."""

from __future__ import annotations

import httpx

from conftest import Org, assert_error


async def test_billing_needs_authentication_first(anon):
    assert_error(await anon.get("/api/v1/billing/status"), 401, "UNAUTHORIZED")
    assert_error(await anon.post("/api/v1/billing/portal", json={"return_url": "https://x.example"}),
                 401, "UNAUTHORIZED")


async def test_billing_status_and_portal_are_not_implemented(org: Org):
    status = assert_error(await org.client.get("/billing/status"), 501, "NOT_IMPLEMENTED")
    assert "self-hosted" in status["message"]
    assert_error(await org.client.post("/billing/portal", json={"return_url": "https://x.example"}),
                 501, "NOT_IMPLEMENTED")
    # The body is never read, so even a malformed one gets the same answer.
    assert_error(await org.client.post("/billing/portal", content=b"{"), 501, "NOT_IMPLEMENTED")


async def test_billing_with_a_jwt(org: Org, anon, base_url):
    tokens = (await anon.post("/api/v1/auth/login", json={"api_key": org.api_key})).json()
    async with httpx.AsyncClient(base_url=base_url + "/api/v1",
                                 headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        assert_error(await c.get("/billing/status"), 501, "NOT_IMPLEMENTED")
