"""/api/v1/jobs routes (to be implemented)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
