"""Credentials → Principal: who is asking and which workspaces they hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import HTTPConnection


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``workspaces`` None means every workspace (auth mode ``none``)."""

    subject: str
    workspaces: frozenset[str] | None

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


class NoAuth:
    """Auth mode ``none``: every caller may use every workspace. Only when asked for."""

    challenge = "Bearer"

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        return ANONYMOUS_ALL

    async def authenticate_token(self, token: str | None) -> Principal:
        return ANONYMOUS_ALL
