"""client.api_keys: API keys of the caller's organization."""

from __future__ import annotations

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body
from ..generated.models import ApiKeySummary, CreateApiKeyRequest, CreatedApiKey, UpdateApiKeyRequest
from ._base import Params, Resource


class ApiKeysResource(Resource):
    """API keys: /api/v1/api-keys and the routes under it."""

    def list(self) -> list[ApiKeySummary]:
        """Keys, newest first, including revoked ones (GET /api-keys)."""
        return self._call(Call("GET", path("/api-keys"), list_reader(ApiKeySummary)))

    def create(self, params: Params) -> CreatedApiKey:
        """Mints a key (POST /api-keys): name, queues, rate_limit, expires_at. `key` in the
        answer is the only copy of the secret."""
        return self._call(Call("POST", path("/api-keys"), model_reader(CreatedApiKey),
                               body=to_body(CreateApiKeyRequest, params)))

    def get(self, key_id: str) -> ApiKeySummary:
        """One key (GET /api-keys/{id}); the secret is never returned."""
        return self._call(Call("GET", path("/api-keys/{}", key_id), model_reader(ApiKeySummary)))

    def update(self, key_id: str, params: Params) -> ApiKeySummary:
        """Changes a key (PUT /api-keys/{id}): name, queues, rate_limit, is_active."""
        return self._call(Call("PUT", path("/api-keys/{}", key_id), model_reader(ApiKeySummary),
                               body=to_body(UpdateApiKeyRequest, params)))

    def delete(self, key_id: str) -> None:
        """Revokes a key (DELETE /api-keys/{id})."""
        return self._call(Call("DELETE", path("/api-keys/{}", key_id), read_nothing))
