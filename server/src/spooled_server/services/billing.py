"""Billing belongs to the hosted service; a self-hosted server has no subscriptions.

The routes still authenticate first, so clients see 401 for bad credentials and 501 only
once they are known to be talking to a server without billing.
"""

from __future__ import annotations

from ..errors import NotImplementedHere

_MESSAGE = "Billing is not available on self-hosted servers"


def status(org_id: str) -> dict:
    raise NotImplementedHere(_MESSAGE)


def portal(org_id: str) -> dict:
    raise NotImplementedHere(_MESSAGE)
