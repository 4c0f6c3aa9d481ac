"""Every request and response model of the REST API (generated from openapi/spooled.yaml).

Import models from here rather than from spooled.generated, which may be reorganised when
regenerated. A few aliases carry the names the other Spooled SDKs use.
"""

from __future__ import annotations

from .generated.models import *  # noqa: F401,F403 - the point of this module is to re-export them
from .generated.models import (ClaimRequest, CompleteJobRequest, CreateJobRequest, FailJobRequest,
                               JobHeartbeatRequest, RegisterWorkerRequest)

# Names of the request models in the other Spooled SDKs.
CreateJobParams = CreateJobRequest
ClaimJobsParams = ClaimRequest
CompleteJobParams = CompleteJobRequest
FailJobParams = FailJobRequest
JobHeartbeatParams = JobHeartbeatRequest
RegisterWorkerParams = RegisterWorkerRequest
