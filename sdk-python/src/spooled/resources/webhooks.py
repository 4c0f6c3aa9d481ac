"""client.webhooks: outgoing webhooks the server calls on job, queue, worker and schedule events.

To check that a delivery really came from your server, see spooled.webhook_signature.
"""

from __future__ import annotations

# `builtins.list` in annotations below a `list` method: there a bare `list` names the method
# (type checkers resolve annotations in the class's scope).
import builtins

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body, to_query
from ..generated.models import (CreateOutgoingWebhookRequest, OutgoingWebhook, RetryDeliveryResponse,
                                UpdateOutgoingWebhookRequest, WebhookDelivery, WebhookTestResponse)
from ._base import Params, Resource

DELIVERIES_QUERY = frozenset({"status", "limit", "offset"})


class WebhooksResource(Resource):
    """Outgoing webhooks: /api/v1/outgoing-webhooks and the routes under it."""

    def list(self) -> list[OutgoingWebhook]:
        """Every outgoing webhook, newest first (GET /outgoing-webhooks)."""
        return self._call(Call("GET", path("/outgoing-webhooks"), list_reader(OutgoingWebhook)))

    def create(self, params: Params) -> OutgoingWebhook:
        """Creates a webhook (POST /outgoing-webhooks): name, url, events, secret, enabled."""
        return self._call(Call("POST", path("/outgoing-webhooks"), model_reader(OutgoingWebhook),
                               body=to_body(CreateOutgoingWebhookRequest, params)))

    def get(self, webhook_id: str) -> OutgoingWebhook:
        """One webhook (GET /outgoing-webhooks/{id}); its secret is never returned."""
        return self._call(Call("GET", path("/outgoing-webhooks/{}", webhook_id), model_reader(OutgoingWebhook)))

    def update(self, webhook_id: str, params: Params) -> OutgoingWebhook:
        """Changes a webhook (PUT /outgoing-webhooks/{id}). `secret`: omit to keep, None to remove."""
        return self._call(Call("PUT", path("/outgoing-webhooks/{}", webhook_id), model_reader(OutgoingWebhook),
                               body=to_body(UpdateOutgoingWebhookRequest, params)))

    def delete(self, webhook_id: str) -> None:
        """Deletes a webhook (DELETE /outgoing-webhooks/{id})."""
        return self._call(Call("DELETE", path("/outgoing-webhooks/{}", webhook_id), read_nothing))

    def test(self, webhook_id: str) -> WebhookTestResponse:
        """Sends one signed test delivery now and reports the outcome (POST /outgoing-webhooks/{id}/test)."""
        return self._call(Call("POST", path("/outgoing-webhooks/{}/test", webhook_id),
                               model_reader(WebhookTestResponse)))

    def get_deliveries(self, webhook_id: str, params: Params | None = None) -> builtins.list[WebhookDelivery]:
        """Recent deliveries (GET /outgoing-webhooks/{id}/deliveries): status, limit, offset."""
        return self._call(Call("GET", path("/outgoing-webhooks/{}/deliveries", webhook_id),
                               list_reader(WebhookDelivery), query=to_query(params, DELIVERIES_QUERY)))

    def retry_delivery(self, webhook_id: str, delivery_id: str) -> RetryDeliveryResponse:
        """Sends a failed delivery again (POST /outgoing-webhooks/{id}/retry/{delivery_id})."""
        return self._call(Call("POST", path("/outgoing-webhooks/{}/retry/{}", webhook_id, delivery_id),
                               model_reader(RetryDeliveryResponse)))
