"""Client of the fault proxy's control port (see conformance/fault_proxy.py)."""

from __future__ import annotations

from typing import Any

import httpx


class ProxyControl:
    def __init__(self, control_url: str):
        self._http = httpx.AsyncClient(base_url=control_url.rstrip("/"), timeout=10.0)

    async def _post(self, path: str, body: dict | None = None) -> dict[str, Any]:
        response = await self._http.post(path, json=body or {})
        if response.status_code != 200:
            raise httpx.HTTPError(f"fault proxy {path} answered {response.status_code}: {response.text}")
        return response.json()

    async def configure(self, fault: dict[str, Any]) -> dict[str, Any]:
        """Sets the mode: pass | fail_next | delay | reset_next | blackhole."""
        return await self._post("/control", fault)

    async def reset(self) -> dict[str, Any]:
        """Back to pass, counters zeroed."""
        return await self._post("/control/reset")

    async def zero_counters(self) -> dict[str, Any]:
        return await self._post("/control/stats/reset")

    async def stats(self) -> dict[str, Any]:
        response = await self._http.get("/control/stats")
        response.raise_for_status()
        return response.json()

    async def close(self) -> None:
        await self._http.aclose()
