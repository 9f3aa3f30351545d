"""Kora's capability row from the substrate's tool when it is offered, else from the mirror.

When the MCP server lists ``kora__read_kora_capability_row`` (declaring its ``workspace_id``
argument), ``Workspace.capabilityRow`` and the session context are answered by it (``source:
SUBSTRATE``). While it is not listed, or the server is unreachable, the mirror answers (``source:
MIRROR``) as before. A call that fails (timeout,
error, an answer of the wrong shape) falls back to the mirror for that read instead of failing it,
and is logged on ``gateway.writes`` when the fallback starts and when it ends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from gateway.surfaces.capabilities import CapabilityMatrixRow, mirror_row, row_from_substrate
from gateway.writes.deferred import CAPABILITY_ROW, TAG
from gateway.writes.mcp import ToolLink
from gateway.writes.tool_calls import ToolCallError
from gateway.writes.tool_shapes import offer

log = logging.getLogger("gateway.writes")


def parse_capability_answer(answer: dict[str, Any]) -> dict[str, bool]:
    """``{"capabilities": {name: bool}}`` → the grants; ValueError for any other shape."""
    caps = answer.get("capabilities")
    if not isinstance(caps, dict) or not caps:
        raise ValueError("`capabilities` is not a non-empty object")
    for name, granted in caps.items():
        if (
            not isinstance(name, str)
            or not name.startswith("cap_")
            or not isinstance(granted, bool)
        ):
            raise ValueError("`capabilities` must map `cap_*` names to booleans")
    return caps


class ToolCapabilitySource:
    """The ``Context.capability_source`` of a gateway with an MCP server configured."""

    def __init__(self, link: ToolLink) -> None:
        self._link = link
        self._running: dict[str, asyncio.Task[CapabilityMatrixRow]] = {}
        self._falling_back = False

    @property
    def current_source(self) -> Literal["SUBSTRATE", "MIRROR"]:
        """Where reads come from now: the tool while it is offered, unless its last call failed
        (reads then fall back to the mirror until a call succeeds)."""
        if self._offered() and not self._falling_back:
            return "SUBSTRATE"
        return "MIRROR"

    def _offered(self) -> bool:
        return offer(CAPABILITY_ROW, self._link.tools).available

    async def capability_row(self, workspace_id: str) -> CapabilityMatrixRow:
        if not self._offered():
            return mirror_row()
        # Concurrent reads of one workspace (a session context beside capabilityRow) share a call.
        task = self._running.get(workspace_id)
        if task is None:
            task = asyncio.create_task(self._fetch(workspace_id))
            self._running[workspace_id] = task
            task.add_done_callback(lambda _: self._running.pop(workspace_id, None))
        return await asyncio.shield(task)

    async def _fetch(self, workspace_id: str) -> CapabilityMatrixRow:
        try:
            answer = await self._link.call(
                CAPABILITY_ROW.missing_tool, {"workspace_id": workspace_id}
            )
            row = row_from_substrate(parse_capability_answer(answer))
        except (ToolCallError, ValueError) as exc:
            if not self._falling_back:
                log.warning(
                    f"{TAG} capability row read failed; answering from the mirror",
                    extra={
                        "tag": TAG,
                        "deviation_id": CAPABILITY_ROW.deviation_id,
                        "tool": CAPABILITY_ROW.missing_tool,
                        "workspace": workspace_id,
                        "error": getattr(exc, "message", str(exc)),
                    },
                )
            self._falling_back = True
            return mirror_row()
        if self._falling_back:
            log.info(
                "capability row read from the substrate again",
                extra={"tool": CAPABILITY_ROW.missing_tool, "workspace": workspace_id},
            )
        self._falling_back = False
        return row
