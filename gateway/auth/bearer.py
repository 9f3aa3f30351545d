"""Bearer credentials → ``Principal`` (``gateway.reads.principal``): the authenticator protocol.

Modes (``GATEWAY_AUTH_MODE``):
- ``jwt``: ``Authorization: Bearer <JWT>`` (``gateway.auth.tokens``).
- ``api-key``: ``Authorization: Bearer kgw_<id>_<secret>`` (``gateway.auth.api_keys``).
- ``none``: every caller holds every workspace. Only when asked for explicitly (the demo).
"""

from __future__ import annotations

import logging
from typing import Final, Protocol

from starlette.requests import HTTPConnection

from gateway.errors import Unauthenticated
from gateway.reads.principal import ANONYMOUS_ALL, Principal

log = logging.getLogger("gateway.auth")

REALM: Final = 'Bearer realm="kora-gateway"'


class Authenticator(Protocol):
    challenge: str
    """The ``WWW-Authenticate`` value sent with a 401."""

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        """The caller's principal from the ``Authorization`` header of an HTTP request or
        WebSocket upgrade; raises ``Unauthenticated`` for missing or bad credentials."""
        ...

    async def authenticate_token(self, token: str | None) -> Principal:
        """The same check for a bare bearer token (e.g. from a WebSocket ``connection_init``)."""
        ...


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None when there is no header."""
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "Send credentials as `Authorization: Bearer <token>`.", reason="invalid_token"
        )
    return token.strip()


class NoAuth:
    """Auth mode ``none``: every caller may use every workspace. Only when asked for."""

    challenge = REALM

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        return ANONYMOUS_ALL

    async def authenticate_token(self, token: str | None) -> Principal:
        return ANONYMOUS_ALL
