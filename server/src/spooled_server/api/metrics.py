"""/metrics routes (to be implemented)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="", tags=["metrics"])
