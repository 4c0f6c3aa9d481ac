"""Organization slugs: the validity rule, turning a name into a slug, and finding a free one."""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

from ..store import organizations as org_store
from .core import Core

SLUG_MIN, SLUG_MAX = 3, 50
# Lowercase letters and digits in hyphen-separated runs, starting with a letter.
_SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

RESERVED_SLUGS = frozenset({
    "admin", "api", "app", "auth", "dashboard", "docs", "help", "internal", "login", "logout",
    "metrics", "root", "settings", "signup", "status", "support", "system", "test", "www"})

# Numbered variants tried (in one query) before falling back to a random suffix.
_NUMBERED_TRIES = 20


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name an organization, or None when it can."""
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        return f"slug must be {SLUG_MIN}-{SLUG_MAX} characters"
    if not _SLUG.fullmatch(slug):
        return ("slug must start with a lowercase letter and contain only lowercase letters, "
                "digits and single hyphens between them")
    if slug in RESERVED_SLUGS:
        return f"slug '{slug}' is reserved"
    return None


def slugify(name: str) -> str:
    """A valid slug derived from free text ("Acme Inc." -> "acme-inc"); never empty or reserved."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_name.lower())
    slug = "-".join(words)
    if not slug or not slug[0].isalpha():
        slug = f"org-{slug}" if slug else "org"
    slug = _trim(slug, SLUG_MAX)
    if len(slug) < SLUG_MIN:
        slug = f"{slug}-org"
    if slug in RESERVED_SLUGS:
        slug = f"{slug}-org"
    return slug


def _trim(slug: str, length: int) -> str:
    # Cutting may leave a trailing hyphen, which the rule forbids.
    return slug[:length].rstrip("-")


def _with_suffix(base: str, suffix: str) -> str:
    return f"{_trim(base, SLUG_MAX - len(suffix) - 1)}-{suffix}"


async def free_slug_like(core: Core, base: str) -> str:
    """`base` if it is free, else the first free `base-2`, `base-3`, ..., else a random suffix."""
    candidates = [base] + [_with_suffix(base, str(n)) for n in range(2, _NUMBERED_TRIES + 2)]
    async with core.pool.acquire() as conn:
        taken = await org_store.taken_slugs(conn, candidates)
        for candidate in candidates:
            if candidate not in taken:
                return candidate
        while True:  # 2^24 suffixes per base: a handful of tries at most
            candidate = _with_suffix(base, secrets.token_hex(3))
            if not await org_store.slug_exists(conn, candidate):
                return candidate


async def check(core: Core, slug: str) -> dict[str, Any]:
    """Whether `slug` is valid and free; a free alternative when it is not."""
    problem = slug_problem(slug)
    if problem:
        return {"slug": slug, "available": False, "valid": False, "error": problem,
                "suggestion": await free_slug_like(core, slugify(slug))}
    async with core.pool.acquire() as conn:
        taken = await org_store.slug_exists(conn, slug)
    if not taken:
        return {"slug": slug, "available": True, "valid": True, "error": None, "suggestion": None}
    return {"slug": slug, "available": False, "valid": True,
            "error": f"slug '{slug}' is already taken", "suggestion": await free_slug_like(core, slug)}


async def generate(core: Core, name: str) -> dict[str, str]:
    return {"slug": await free_slug_like(core, slugify(name))}
