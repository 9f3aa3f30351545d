"""Who is asking and which workspaces they hold: what every read is authorized against."""

from __future__ import annotations

from dataclasses import dataclass


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
