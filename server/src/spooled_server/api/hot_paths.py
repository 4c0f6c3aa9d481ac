"""The worker protocol's hot routes, dispatched without the framework's router.

Creating, claiming, completing, failing and heartbeating jobs are most of a queue's traffic.
For them, walking a hundred routes and solving dependencies cost more than the work itself,
so these are matched here and handed straight to the same route functions the framework
would call (api/jobs.py), with the same authentication, body checks and error rendering.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ..errors import DomainError
from . import jobs
from .deps import caller
from .error_responses import render_error, render_unexpected

_PREFIX = "/api/v1/jobs"
_BY_ACTION = {"complete": jobs.complete, "fail": jobs.fail, "heartbeat": jobs.heartbeat}


def match(scope: Scope):
    """(route function, job id or None) for a hot request, else None."""
    if scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if path == _PREFIX or path == _PREFIX + "/":
        return jobs.create_job, None
    if not path.startswith(_PREFIX + "/"):
        return None
    rest = path[len(_PREFIX) + 1:]
    if rest == "claim":
        return jobs.claim, None
    if rest == "complete":
        return jobs.complete_batch, None
    job_id, _, action = rest.partition("/")
    route = _BY_ACTION.get(action)
    if route is None or not job_id or job_id in ("claim", "bulk", "dlq", "status", "stats"):
        return None
    return route, job_id


async def serve(api, route, job_id: str | None, scope: Scope, receive: Receive, send: Send) -> None:
    scope["app"] = api  # what request.app (and so core_of) reads
    request = Request(scope, receive)
    try:
        who = await caller(request)
        if job_id is None:
            response = await route(request, who)
        else:
            response = await route(job_id, request, who)
    except DomainError as err:
        response = render_error(err)
    except Exception as err:  # noqa: BLE001 - rendered as 503/500 like every other route
        response = render_unexpected(err)
    await response(scope, receive, send)
