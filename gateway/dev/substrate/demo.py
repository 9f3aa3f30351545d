"""Deterministic demo data: four workspaces, three populated and one fresh.

Ids, timestamps and texts are fixed (uuid5, literal dates, a seeded ``random.Random``); only
``event_log.occurred_at`` and ``event_id`` are "now" and random, because events are appended
through ``hivex_foundation._emit_chain_event`` so that their hash chains are valid.

The main workspace's newest events are a fixed showcase: an empty ``{}`` payload, payloads whose
``jsonb_pretty`` text is exactly 300 and 301 characters, long ones with non-ASCII text, and a
non-``kora.`` event in between.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg

from gateway.dev.substrate import demo_content as content

DEMO_WORKSPACE_ID: Final = "org_2fXkKoraDemo01"
ATLAS_WORKSPACE_ID: Final = "org_2fXkAtlasLabs02"
BOREAL_WORKSPACE_ID: Final = "org_2fXkBoreal03"
FRESH_WORKSPACE_ID: Final = "org_2fXkFreshStart04"
"""A tenant row only: no constitution, events, charter, policies or scratchpad."""
POPULATED_WORKSPACE_IDS: Final = (DEMO_WORKSPACE_ID, ATLAS_WORKSPACE_ID, BOREAL_WORKSPACE_ID)
DEMO_WORKSPACE_IDS: Final = (*POPULATED_WORKSPACE_IDS, FRESH_WORKSPACE_ID)

DEMO_NAMESPACE: Final = uuid.UUID("6f1c2a4e-9b1d-5c3e-8a7f-4b2d9e0c1a55")
BASE_TIME: Final = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

INSERT_TENANT: Final = """
INSERT INTO hivex_foundation.tenant (tenant_id, clerk_org_id, display_name, created_at)
VALUES ($1, $2, $3, $4)
"""
INSERT_REVISION: Final = """
INSERT INTO kronicle.workspace_constitution_revisions
    (revision_id, workspace_id, revision_number, rules_hash, created_at)
VALUES ($1, $2, $3, $4, $5)
"""
INSERT_CHARTER: Final = """
INSERT INTO kronicle.role_charters
    (workspace_id, role, version, title, mission, responsibilities, boundaries, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
INSERT_POLICY: Final = """
INSERT INTO kronicle.policy_registry
    (workspace_id, policy_id, name, status, version, body, updated_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
"""
INSERT_SCRATCHPAD: Final = """
INSERT INTO kronicle.agent_scratchpad (entry_id, workspace_id, agent_id, kind, content, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""
EMIT_EVENT: Final = "SELECT * FROM hivex_foundation._emit_chain_event($1, $2, $3::jsonb)"
PRETTY_LENGTH: Final = "SELECT length(jsonb_pretty($1::jsonb))"
DEMO_LOADED: Final = "SELECT EXISTS (SELECT 1 FROM hivex_foundation.tenant WHERE clerk_org_id = $1)"
LOAD_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended('kora-gateway demo data', 0))"

# An event to append: type, payload, and the exact jsonb_pretty length to pad "detail" to, if any.
Event = tuple[str, dict[str, Any], int | None]


@dataclass(frozen=True, slots=True)
class _Workspace:
    workspace_id: str
    display_name: str
    revisions: int
    charters: tuple[int, ...]  # indexes into content.CHARTERS, oldest first
    policies: tuple[int, ...]  # indexes into content.POLICIES
    kora_per_kind: int
    others: tuple[tuple[str, int], ...]  # (agent_id, entries)
    kora_events: int
    showcase: bool = False


_WORKSPACES: Final = (
    _Workspace(
        DEMO_WORKSPACE_ID, "Kora Demo", 4, (0, 1, 2), tuple(range(9)), 5,
        (("claude_pm", 8), ("sea_orchestrator", 6), ("scribe", 5)), 64, showcase=True,
    ),
    _Workspace(
        ATLAS_WORKSPACE_ID, "Atlas Labs", 2, (0, 1), (0, 1, 3, 4, 6, 8), 2,
        (("claude_pm", 4), ("researcher", 3)), 18,
    ),
    _Workspace(
        BOREAL_WORKSPACE_ID, "Boreal Systems", 3, (2,), (0, 1, 2, 4, 7), 1,
        (("sea_orchestrator", 3),), 12,
    ),
)  # fmt: skip


def demo_tenant_id(workspace_id: str) -> uuid.UUID:
    """The fixed tenant id of a demo workspace."""
    return uuid.uuid5(DEMO_NAMESPACE, workspace_id)


def demo_rules_text(workspace_id: str, revision_number: int) -> str:
    """The Constitution text whose sha256 is that revision's ``rules_hash``."""
    return (
        f"Constitution of {workspace_id}, revision {revision_number}\n"
        "1. Humans decide; agents propose and record.\n"
        "2. Every decision is traceable to a chain event.\n"
        f"3. Conventions need {1 + revision_number % 3} approvals before blessing.\n"
        + ("4. Quiet hours: 22:00–07:00 workspace time.\n" if revision_number >= 4 else "")
    )


async def load_demo_data(conn: asyncpg.Connection) -> None:
    """Insert the demo workspaces, in one transaction; a no-op when they already exist."""
    async with conn.transaction():
        await conn.execute(LOAD_LOCK)
        if await conn.fetchval(DEMO_LOADED, DEMO_WORKSPACE_ID):
            return
        for index, workspace_id in enumerate(DEMO_WORKSPACE_IDS):
            name = next(
                (w.display_name for w in _WORKSPACES if w.workspace_id == workspace_id),
                "Fresh Start",
            )
            created = BASE_TIME - timedelta(days=60 - index)
            await conn.execute(
                INSERT_TENANT, demo_tenant_id(workspace_id), workspace_id, name, created
            )
        for workspace in _WORKSPACES:
            await _load_workspace(conn, workspace)


async def _load_workspace(conn: asyncpg.Connection, ws: _Workspace) -> None:
    wid = ws.workspace_id
    await conn.executemany(
        INSERT_REVISION,
        [
            (
                uuid.uuid5(DEMO_NAMESPACE, f"{wid}/constitution/{n}"),
                wid,
                n,
                hashlib.sha256(demo_rules_text(wid, n).encode()).digest(),
                BASE_TIME - timedelta(days=14 * (ws.revisions - n + 1)),
            )
            for n in range(1, ws.revisions + 1)
        ],
    )
    charters = [
        (wid, "kora", version, c["title"], c["mission"], list(c["responsibilities"]),
         list(c["boundaries"]), BASE_TIME - timedelta(days=10 * (len(ws.charters) - version)))
        for version, c in enumerate((content.CHARTERS[i] for i in ws.charters), start=1)
    ]  # fmt: skip
    if ws.showcase:
        # Another role with a higher version: a read that forgot role = 'kora' would show it.
        charters.append(
            (wid, "claude_pm", 7, "Claude PM — Delivery Lead", "Turn decisions into shipped work.",
             ["Own the release plan"], ["Never edits the Constitution"], BASE_TIME)
        )  # fmt: skip
    await conn.executemany(INSERT_CHARTER, charters)
    policies = []
    for i in ws.policies:
        pid, name, status, version, summary, rules = content.POLICIES[i]
        body = {
            "summary": summary,
            "rules": list(rules),
            "owner": "operator",
            "applies_to": ["kora"],
        }
        updated = BASE_TIME - timedelta(days=3 * i)
        policies.append((wid, pid, name, status, version, json.dumps(body), updated))
    await conn.executemany(INSERT_POLICY, policies)
    await conn.executemany(INSERT_SCRATCHPAD, _scratchpad_rows(ws))
    tenant_id = demo_tenant_id(wid)
    for event_type, payload, pad_to in _event_plan(ws):
        if pad_to is not None:
            payload = await _padded(conn, payload, pad_to)
        await conn.execute(EMIT_EVENT, tenant_id, event_type, json.dumps(payload))


def _scratchpad_rows(ws: _Workspace) -> list[tuple[Any, ...]]:
    rng = random.Random(f"kora-demo-scratchpad:{ws.workspace_id}")  # noqa: S311 - demo data
    entries = [
        ("kora", kind, lines[i])
        for kind, lines in content.KORA_LINES.items()
        for i in range(ws.kora_per_kind)
    ]
    for agent, count in ws.others:
        entries.extend((agent, kind, text) for kind, text in content.OTHER_AGENT_LINES[:count])
    rng.shuffle(entries)
    start = BASE_TIME - timedelta(minutes=37 * len(entries))
    return [
        (
            uuid.uuid5(DEMO_NAMESPACE, f"{ws.workspace_id}/scratchpad/{i}"),
            ws.workspace_id,
            agent,
            kind,
            text,
            start + timedelta(minutes=37 * i + rng.randint(0, 20)),
        )
        for i, (agent, kind, text) in enumerate(entries)
    ]


def _event_plan(ws: _Workspace) -> list[Event]:
    rng = random.Random(f"kora-demo-events:{ws.workspace_id}")  # noqa: S311 - demo data
    events: list[Event] = []
    kora = 0
    session = 0
    target = ws.kora_events - (len(_showcase()) - 1 if ws.showcase else 0)
    while kora < target:
        session += 1
        sid = f"ses_{ws.workspace_id[-6:].lower()}_{session:03d}"
        trigger = rng.choice(("operator", "schedule", "handoff"))
        session_events: list[Event] = [
            ("kora.session.started", {"session_id": sid, "trigger": trigger}, None)
        ]
        session_events += [_middle_event(rng, sid) for _ in range(rng.randint(1, 3))]
        session_events.append(
            ("kora.session.ended",
             {"session_id": sid, "duration_s": rng.randint(120, 3600), "summary_written": True},
             None)
        )  # fmt: skip
        if rng.random() < 0.4:
            session_events.insert(rng.randint(1, len(session_events) - 1), _noise_event(rng))
        events += session_events
        kora += sum(1 for t, _, _ in session_events if t.startswith("kora."))
    if ws.showcase:
        events += _showcase()
    return events


def _middle_event(rng: random.Random, sid: str) -> Event:
    kind = rng.choice(("handoff", "convention", "policy", "escalation"))
    if kind == "handoff":
        return (
            "kora.handoff.to_claude_pm",
            {"session_id": sid, "summary": content.HANDOFF_SUMMARY,
             "open_questions": ["Who signs off the window?", "Do quiet hours apply to staging?"]},
            None,
        )  # fmt: skip
    if kind == "convention":
        return (
            "kora.convention.proposed",
            {"session_id": sid, "convention": rng.choice(content.CONVENTIONS),
             "evidence_count": rng.randint(3, 9)},
            None,
        )  # fmt: skip
    if kind == "policy":
        _, name, _, version, summary, _ = rng.choice(content.POLICIES)
        return (
            "kora.policy.change_proposed",
            {"session_id": sid, "policy": name, "from_version": version, "change": summary},
            None,
        )  # fmt: skip
    return (
        "kora.escalation.raised",
        {"session_id": sid, "escalation_id": f"E-{rng.randint(10, 99)}",
         "title": rng.choice(content.ESCALATIONS), "severity": rng.choice(("low", "high"))},
        None,
    )  # fmt: skip


def _noise_event(rng: random.Random) -> Event:
    event_type = rng.choice(content.NOISE_TYPES)
    return (event_type, {"task_id": f"TASK-{rng.randint(100, 999)}", "source": "sea"}, None)


def _showcase() -> list[Event]:
    """The main workspace's newest events, oldest first (all but the noise one are kora.*)."""
    sid = "ses_showcase_001"
    return [
        ("kora.session.started", {}, None),
        ("kora.convention.proposed", {"session_id": sid, "convention": "Exactly 300",
                                      "detail": ""}, 300),
        ("kora.policy.change_proposed", {"session_id": sid, "policy": "Quiet hours",
                                         "detail": ""}, 301),
        ("kora.escalation.raised", {"session_id": sid, "escalation_id": "E-42",
                                    "title": content.ESCALATIONS[2],
                                    "detail": content.UNICODE_TAIL * 4}, None),
        ("sea.task.completed", {"task_id": "TASK-777", "source": "sea"}, None),
        ("kora.handoff.to_claude_pm", {"session_id": sid, "summary": content.HANDOFF_SUMMARY},
         None),
        ("kora.session.ended", {"session_id": sid, "duration_s": 1800}, None),
    ]  # fmt: skip


async def _padded(conn: asyncpg.Connection, payload: dict[str, Any], length: int) -> dict[str, Any]:
    """``payload`` with "detail" grown until its jsonb_pretty text has ``length`` characters."""
    base = int(await conn.fetchval(PRETTY_LENGTH, json.dumps(payload)))
    filler = "The same correction appeared in three reviews this week. " * (1 + length // 50)
    padded = {**payload, "detail": payload["detail"] + filler[: length - base]}
    got = int(await conn.fetchval(PRETTY_LENGTH, json.dumps(padded)))
    if got != length:
        raise AssertionError(f"demo payload padded to {got} characters, wanted {length}")
    return padded
