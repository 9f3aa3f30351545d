"""The words of the demo data: charters, policies, scratchpad lines, event payload templates.

Pure data, no I/O; ``demo.py`` turns it into rows. Kept apart so the loader stays readable.
"""

from __future__ import annotations

from typing import Any, Final

# A long string with non-ASCII text, so truncation is seen to count characters, not bytes.
UNICODE_TAIL: Final = (
    "Terms kept as the team wrote them: café – naïve ✓, résumé, Zoë’s “quick” fix."
)

CHARTERS: Final[tuple[dict[str, Any], ...]] = (
    {
        "title": "Kora — Workspace Memory Keeper",
        "mission": "Keep the workspace's shared memory coherent so every agent starts from the "
        "same facts.",
        "responsibilities": (
            "Record decisions and their reasons in the scratchpad",
            "Summarise each session for the next one",
        ),
        "boundaries": ("Never writes code or merges changes",),
    },
    {
        "title": "Kora — Workspace Steward",
        "mission": "Steward the workspace's memory and conventions: propose, never impose.",
        "responsibilities": (
            "Record decisions and their reasons in the scratchpad",
            "Summarise each session for the next one",
            "Propose conventions when the same correction recurs",
            "Raise escalations the team has not seen",
        ),
        "boundaries": (
            "Never writes code or merges changes",
            "Never blesses or unblesses a convention (operator-only)",
        ),
    },
    {
        "title": "Kora — Workspace Steward",
        "mission": "Steward the workspace's memory, conventions and policies so humans and agents "
        "work from one account of what was decided, by whom, and why.",
        "responsibilities": (
            "Open each session from the role charter, active policies, scratchpads and the chain",
            "Record decisions and their reasons in the scratchpad, newest first",
            "Propose conventions when the same correction recurs three times",
            "Propose policy changes with the evidence that motivates them",
            "Raise escalations the team has not acknowledged within the SLA",
            "Hand work to Claude PM with a summary a newcomer could act on",
        ),
        "boundaries": (
            "Never writes code, merges changes or deploys",
            "Never blesses or unblesses a convention (operator-only)",
            "Never amends the Constitution; proposes revisions instead",
            "Never reads another workspace's memory",
        ),
    },
)

# (policy_id, name, status, version, summary, rules)
POLICIES: Final[tuple[tuple[str, str, str, int, str, tuple[str, ...]], ...]] = (
    (
        "pol_handoff_review",
        "Hand-off review",
        "active",
        3,
        "Every hand-off to Claude PM carries a summary, open questions and links to evidence.",
        ("summary under 200 words", "list open questions", "link the chain events"),
    ),
    (
        "pol_escalation_sla",
        "Escalation SLA",
        "active",
        2,
        "Unacknowledged escalations are re-raised after four working hours.",
        ("acknowledge within 4h", "re-raise once", "then page the operator"),
    ),
    (
        "pol_scratchpad_retention",
        "Scratchpad retention",
        "active",
        1,
        "Scratchpad entries are kept 180 days; memories are kept until superseded.",
        ("notes: 180 days", "memories: until superseded"),
    ),
    (
        "pol_convention_quorum",
        "Convention quorum",
        "active",
        2,
        "A proposed convention needs two human approvals before an operator blesses it.",
        ("two approvals", "operator blesses", "Kora only proposes"),
    ),
    (
        "pol_chain_emit_scope",
        "Chain emit scope",
        "active",
        1,
        "Kora emits only kora.* events, one per decision, never bulk back-fills.",
        ("kora.* prefix only", "no back-fills"),
    ),
    (
        "pol_pii_redaction",
        "PII redaction in scratchpads",
        "proposed",
        1,
        "Redact e-mail addresses and phone numbers before writing to any scratchpad.",
        ("mask e-mails", "mask phone numbers"),
    ),
    (
        "pol_quiet_hours",
        "Quiet hours",
        "proposed",
        1,
        "No escalations between 22:00 and 07:00 workspace time unless severity is critical.",
        ("22:00–07:00 quiet", "critical overrides"),
    ),
    (
        "pol_auto_bless",
        "Automatic blessing",
        "retired",
        4,
        "Conventions with three approvals were blessed automatically (retired: operator-only).",
        ("three approvals bless",),
    ),
    (
        "pol_weekly_digest",
        "Weekly digest",
        "retired",
        2,
        "Kora posted a weekly digest of decisions (replaced by per-session summaries).",
        ("every Friday",),
    ),
)

KORA_LINES: Final[dict[str, tuple[str, ...]]] = {
    "note": (
        "Team prefers squash merges; keep PR titles imperative.",
        "Staging deploys freeze on Thursdays after 16:00.",
        "The flaky test in billing is tracked as TASK-412; do not re-raise.",
        "Operator asked for shorter hand-off summaries.",
        f"Customer call recap. {UNICODE_TAIL}",
    ),
    "reasoning_trail": (
        "Three reviewers corrected the same error-message wording → propose a convention.",
        "Escalation E-17 unanswered for 5h > SLA 4h → re-raise once, then page.",
        "Policy pol_pii_redaction is still proposed, so redact by habit but do not cite it.",
        "Two sessions ended without a summary; add a checklist item to session end.",
        "The release plan conflicts with quiet hours; flag it rather than reschedule.",
    ),
    "delegation": (
        "Delegated release notes draft to claude_pm with the chain links.",
        "Asked sea_orchestrator to re-run the nightly suite after the fix.",
        "Delegated the PII inventory to scribe; due Friday.",
        "Handed the migration checklist to claude_pm.",
        "Asked sea_orchestrator for a rollback rehearsal on staging.",
    ),
    "memory": (
        "Workspace owner: Dana (operator). Escalations go to #kora-ops.",
        "Conventions live in the convention registry; Kora proposes, operators bless.",
        "Constitution revision 4 added the quiet-hours clause.",
        "The team calls the event chain 'the ledger'.",
        "Preferred summary format: decision, reason, owner, next step.",
    ),
}

OTHER_AGENT_LINES: Final[tuple[tuple[str, str], ...]] = (
    ("note", "Picked up the release notes draft from Kora."),
    ("reasoning_trail", "Nightly suite failed twice on the same fixture → quarantine it."),
    ("delegation", "Asked Kora to record the quarantine decision."),
    ("memory", "Billing service owners: Ravi and Mei."),
    ("note", "Rollback rehearsal passed in 3m12s."),
    ("reasoning_trail", "Migration needs a maintenance window → propose Sunday 06:00 UTC."),
    ("memory", f"Glossary entry drafted. {UNICODE_TAIL}"),
    ("delegation", "Handed the changelog review back to Kora."),
)

HANDOFF_SUMMARY: Final = (
    "Session summary for Claude PM: the team agreed to quarantine the flaky billing fixture, "
    "the release notes draft is ready for review, and the migration needs a maintenance window. "
    "Open questions: who signs off the window, and whether quiet hours apply to staging. "
    + UNICODE_TAIL
)

CONVENTIONS: Final = (
    "Error messages say what failed and how to fix it",
    "PR titles are imperative and under 72 characters",
    "Feature flags are removed within two releases",
    "Every escalation names an owner",
    "Scratchpad memories cite the chain event they come from",
)

ESCALATIONS: Final = (
    "Nightly suite red for two days with no owner",
    "Staging certificate expires in 3 days",
    "Migration window not approved; release at risk",
    "Quiet-hours policy conflicts with the on-call rota",
)

NOISE_TYPES: Final = (
    "sea.task.completed",
    "sea.task.started",
    "korax.noise",
    "kora",
    "hivex.tenant.audit",
)
