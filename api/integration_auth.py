"""Who is sending an alert: the integration whose key came with it.

For webhooks (Alertmanager, Grafana, generic alerts). PagerDuty's Events API
carries the key as `routing_key` in the body and answers a bad one with its own
400, so it does not use these answers.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable

from fastapi import Request

from api.errors import Problem
from store.integrations import IntegrationRecord

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def key_from_request(request: Request, path_key: str | None) -> str | None:
    """The integration key: the bearer token, else the URL's path segment.

    Basic authentication is read too, its password being the key, because some
    senders can set no other header.
    """
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if credentials and scheme.lower() == "bearer":
        return credentials
    if credentials and scheme.lower() == "basic":
        password = _basic_password(credentials)
        if password:
            return password
    return path_key or None


async def authenticate_sender(
    find: Callable[[str], Awaitable[IntegrationRecord | None]], key: str | None
) -> IntegrationRecord:
    """The enabled integration holding `key`; 401 for no or an unknown key, 403 if disabled."""
    if not key:
        raise Problem(
            401,
            "Integration key missing",
            "Send the integration's key as 'Authorization: Bearer <key>' or as the last "
            "segment of the URL. An admin creates integrations and keys with "
            "POST /api/v1/integrations.",
            code="integration-key-missing",
            headers=_CHALLENGE,
        )
    integration = await find(key)
    if integration is None:
        raise Problem(
            401,
            "Unknown integration key",
            "No integration holds this key; it may have been rotated. An admin finds the "
            "integration by its key's first characters with GET /api/v1/integrations "
            "and issues a new key with POST /api/v1/integrations/{id}/rotate-key.",
            code="unknown-integration-key",
            headers=_CHALLENGE,
        )
    if not integration.enabled:
        raise Problem(
            403,
            "Integration disabled",
            f"Integration {integration.name!r} is disabled; an admin can enable it with "
            f'PATCH /api/v1/integrations/{integration.id} {{"enabled": true}}.',
            code="integration-disabled",
        )
    return integration


def _basic_password(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None
