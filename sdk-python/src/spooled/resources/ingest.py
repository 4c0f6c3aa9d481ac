"""client.ingest: incoming webhooks, which turn a third-party call into a job.

These routes are public (no API key); an organization that set a webhook token requires it
in X-Webhook-Token.
"""

from __future__ import annotations

from .._wire import Call, optional_model_reader, path, to_body
from ..generated.models import CustomIngestRequest, IngestResponse
from ._base import Params, Resource


class IngestResource(Resource):
    """Incoming webhooks: POST /api/v1/webhooks/{org_id}/custom."""

    def custom(self, org_id: str, params: Params, webhook_token: str | None = None) -> IngestResponse:
        """Enqueues a job through the custom ingestion route: queue_name, payload, event_type,
        idempotency_key, priority. Retried safely only when an idempotency_key is given."""
        body = to_body(CustomIngestRequest, params)
        headers = {"X-Webhook-Token": webhook_token} if webhook_token else {}
        return self._call(Call("POST", path("/webhooks/{}/custom", org_id), optional_model_reader(IngestResponse),
                               body=body, auth="none", headers=headers,
                               replay_safe=body.get("idempotency_key") is not None))
