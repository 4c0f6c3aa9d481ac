"""Probes the server for the features listed in conformance/features.yaml."""

from __future__ import annotations

import asyncio

import httpx
import yaml

from .scenarios import CONFORMANCE_DIR

FEATURES_PATH = CONFORMANCE_DIR / "features.yaml"
ABSENT_STATUSES = {404, 501}


async def _http_probe(http: httpx.AsyncClient, probe: dict, api_key: str, admin_key: str) -> bool:
    headers = {}
    if probe.get("auth") == "api_key":
        headers["Authorization"] = f"Bearer {api_key}"
    elif probe.get("auth") == "admin_key":
        headers["X-Admin-Key"] = admin_key
    request = http.build_request(probe["method"], probe["path"], headers=headers, json=probe.get("body"))
    try:
        # A stream is judged on its status line alone, then closed.
        response = await http.send(request, stream=True)
        await response.aclose()
    except httpx.HTTPError:
        return False
    return response.status_code not in ABSENT_STATUSES


async def _tcp_probe(target: str | None) -> bool:
    if not target:
        return False
    host, _, port = target.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), 2.0)
    except (OSError, ValueError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


async def probe_features(http_url: str, api_key: str, admin_key: str, grpc_target: str | None) -> set[str]:
    table = yaml.safe_load(FEATURES_PATH.read_text())["features"]
    present = set()
    async with httpx.AsyncClient(base_url=http_url, timeout=5.0) as http:
        for name, probe in table.items():
            if "tcp" in probe:
                ok = await _tcp_probe(grpc_target if probe["tcp"] == "grpc_target" else probe["tcp"])
            else:
                ok = await _http_probe(http, probe, api_key, admin_key)
            if ok:
                present.add(name)
    return present
