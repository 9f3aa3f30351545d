"""The prompt block: a size-bounded text agents inject into their system prompt.

Six sections: 1 role charter, 2 active policies, 3 capabilities, 4 scratchpad, 5 active
Constitution revision, 6 recent kora.* activity (the last 5 events as bullets). Each section is
bounded on its own and the whole block never exceeds ``MAX_CHARS``; the full history stays
queryable through the graph.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from gateway.reads.session_context import SessionContextValue
from gateway.surfaces.policies import PolicyRow
from gateway.surfaces.scratchpad import ScratchpadRow

MAX_CHARS: Final = 12_000
RECENT_EVENTS: Final = 5
SCRATCHPAD_ENTRIES: Final = 8
POLICIES: Final = 20
LINE_CHARS: Final = 200
_SPACE: Final = re.compile(r"\s+")


def _one_line(text: str, limit: int = LINE_CHARS) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _stamp(entry_time: object) -> str:
    text = getattr(entry_time, "isoformat", lambda **_: str(entry_time))(timespec="seconds")
    return str(text).replace("+00:00", "Z")


def _charter(ctx: SessionContextValue) -> list[str]:
    c = ctx.role_charter
    if c is None:
        return ["(no charter recorded for role kora)"]
    lines = [
        f"{c.title} (role {c.role}, version {c.version})",
        f"Mission: {_one_line(c.mission, 600)}",
    ]
    lines += ["Responsibilities:"] + [f"- {_one_line(r)}" for r in c.responsibilities[:12]]
    lines += ["Boundaries:"] + [f"- {_one_line(b)}" for b in c.boundaries[:12]]
    return lines


def _policies(policies: Sequence[PolicyRow]) -> list[str]:
    if not policies:
        return ["(no active policies)"]
    lines = [
        f"- {_one_line(p.name, 120)} ({p.policy_id}, v{p.version})" for p in policies[:POLICIES]
    ]
    if len(policies) > POLICIES:
        lines.append(f"- … and {len(policies) - POLICIES} more (query Workspace.policies)")
    return lines


def _capabilities(ctx: SessionContextValue) -> list[str]:
    row = ctx.capability_matrix_row
    granted = [c.name for c in row.capabilities if c.granted]
    denied = [c.name for c in row.capabilities if not c.granted]
    source = row.source if row.deviation_id is None else f"{row.source}, {row.deviation_id}"
    return [
        f"Source: {source}",
        f"Granted ({len(granted)}): {', '.join(granted)}",
        f"Denied ({len(denied)}): {', '.join(denied)}",
    ]


def _entries(entries: Sequence[ScratchpadRow]) -> list[str]:
    return [
        f"- {_stamp(e.created_at)} {e.agent_id} [{e.kind}] {_one_line(e.content)}"
        for e in entries[:SCRATCHPAD_ENTRIES]
    ]


def _scratchpad(ctx: SessionContextValue) -> list[str]:
    lines = ["Kora's own (newest first):"]
    lines += _entries(ctx.own_scratchpad) or ["- (empty)"]
    lines += ["Other agents (newest first):"]
    lines += _entries(ctx.cross_agent_scratchpad) or ["- (empty)"]
    return lines


def _constitution(ctx: SessionContextValue) -> list[str]:
    if ctx.active_constitution_revision_id is None:
        return ["(no Constitution revision yet)"]
    return [
        f"Revision {ctx.active_constitution_revision_id}",
        f"Rules hash {ctx.active_constitution_rules_hash}",
    ]


def _activity(ctx: SessionContextValue) -> list[str]:
    recent = ctx.recent_chain_events[:RECENT_EVENTS]
    if not recent:
        return ["(no kora.* events yet)"]
    return [
        f"- {_stamp(e.occurred_at)} {e.event_type}: {_one_line(e.payload_text, 160)}"
        for e in recent
    ]


def _bounded(lines: list[str], budget: int) -> str:
    text = "\n".join(lines)
    return text if len(text) <= budget else text[: budget - 1] + "…"


def build_prompt_block(ctx: SessionContextValue, policies: Sequence[PolicyRow]) -> str:
    """Render the six sections as plain text, each within its budget, at most ``MAX_CHARS``."""
    sections = [
        ("1. Role charter", _charter(ctx), 3000),
        ("2. Active policies", _policies(policies), 2000),
        ("3. Capabilities", _capabilities(ctx), 2500),
        ("4. Scratchpad", _scratchpad(ctx), 3000),
        ("5. Active Constitution revision", _constitution(ctx), 300),
        ("6. Recent kora.* activity", _activity(ctx), 1000),
    ]
    head = f"# Kora session context for workspace {ctx.workspace_id} ({_stamp(ctx.assembled_at)})"
    parts = [head[:150]]
    for title, lines, budget in sections:
        parts.append(f"\n## {title}\n{_bounded(lines, budget)}")
    return "\n".join(parts) + "\n"
