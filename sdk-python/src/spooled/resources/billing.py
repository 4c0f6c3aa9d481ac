"""client.billing: hosted-service billing. Self-hosted servers answer 501 (an APIError)."""

from __future__ import annotations

from .._wire import Call, model_reader, path, to_body
from ..generated.models import BillingPortalRequest, BillingPortalResponse, BillingStatus
from ._base import Params, Resource


class BillingResource(Resource):
    """Billing: /api/v1/billing/*."""

    def get_status(self) -> BillingStatus:
        """Plan and subscription state (GET /billing/status)."""
        return self._call(Call("GET", path("/billing/status"), model_reader(BillingStatus)))

    def create_portal(self, params: Params) -> BillingPortalResponse:
        """A link to the billing portal (POST /billing/portal): return_url."""
        return self._call(Call("POST", path("/billing/portal"), model_reader(BillingPortalResponse),
                               body=to_body(BillingPortalRequest, params), replay_safe=True))
