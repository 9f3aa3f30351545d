"""Credentials → Principal: who is asking and which workspaces they hold.

Modes (``GATEWAY_AUTH_MODE``):
- ``jwt``: ``Authorization: Bearer <JWT>`` (``gateway.auth.tokens``).
- ``api-key``: ``Authorization: Bearer kgw_<id>_<secret>`` (``gateway.auth.api_keys``).
- ``none``: every caller holds every workspace. Only when asked for explicitly (the demo).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Protocol

from starlette.requests import HTTPConnection

from gateway.errors import Unauthenticated

log = logging.getLogger("gateway.auth")

REALM: Final = 'Bearer realm="kora-gateway"'


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``workspaces`` None means every workspace (auth mode ``none``)."""

    subject: str
    workspaces: frozenset[str] | None
    expires_at: float | None = None
    """Unix time after which the credentials are no longer valid (a JWT's exp plus leeway)."""

    def may_access(self, workspace_id: str) -> bool:
        return self.workspaces is None or workspace_id in self.workspaces


ANONYMOUS_ALL = Principal(subject="anonymous", workspaces=None)


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
        raise Unauthenticated("Send credentials as `Authorization: Bearer <token>`.")
    return token.strip()


class NoAuth:
    """Auth mode ``none``: every caller may use every workspace. Only when asked for."""

    challenge = REALM

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        return ANONYMOUS_ALL

    async def authenticate_token(self, token: str | None) -> Principal:
        return ANONYMOUS_ALL
