"""``gateway config``: the effective settings (secrets redacted), and the README's settings table.

The plain output is itself a valid ``.env`` file: one ``NAME=value`` line per setting, with where
the value came from (``env``, ``.env`` or ``default``) and what it means in a trailing comment.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import orjson

from gateway.settings import dotenv
from gateway.settings.core import ConfigError, Settings

TABLE_START: Final = "<!-- settings-table:start -->"
TABLE_END: Final = "<!-- settings-table:end -->"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Warnings for ``GATEWAY_*`` variables that are no setting (a typo is otherwise silent)."""
    known = {spec.env for _attr, _kind, spec in Settings.specs()} | {"GATEWAY_VENV"}
    out = []
    for name in sorted(environ):
        if name.startswith("GATEWAY_") and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            out.append(f"{name} is not a setting and is ignored{hint}")
    return out


def env_lines(settings: Settings, env: dotenv.Environment) -> list[str]:
    """The effective settings as ``.env`` lines, secrets redacted."""
    helps = {spec.env: spec.help for _attr, _kind, spec in Settings.specs()}
    shown = settings.redacted()
    pairs = [(f"{name}={dotenv.quote(value)}", name) for name, value in shown.items()]
    width = max(len(text) for text, _name in pairs)
    source = f" ({env.file})" if env.file is not None else ""
    lines = [
        f"# kora-gateway settings: effective values, secrets redacted. .env{source or ': none'}"
    ]
    for text, name in pairs:
        lines.append(f"{text:<{width}}  # [{env.source(name)}] {helps[name]}")
    return lines


def json_report(settings: Settings, env: dotenv.Environment) -> bytes:
    """``{NAME: {"value", "source"}}`` for tools, secrets redacted."""
    report = {
        name: {"value": value, "source": env.source(name)}
        for name, value in settings.redacted().items()
    }
    return orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"


def markdown_table() -> str:
    """The README's settings table: every variable, its default and its meaning."""
    defaults = Settings().redacted()
    rows = ["| VARIABLE | default | meaning |", "|---|---|---|"]
    for _attr, _kind, spec in Settings.specs():
        default = defaults.get(spec.env, "")
        cell = f"`{default}`" if default else "—"
        meaning = spec.help.replace("|", "\\|")
        rows.append(f"| `{spec.env}` | {cell} | {meaning} |")
    return "\n".join(rows) + "\n"


def readme_with_table(text: str) -> str:
    """``text`` (a README) with the table between the settings-table markers regenerated."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ConfigError(f"the README has no {TABLE_START} ... {TABLE_END} markers")
    return text[: start + len(TABLE_START)] + "\n" + markdown_table() + text[end:]


def update_readme(path: Path) -> bool:
    """Rewrite the settings table of the README at ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    updated = readme_with_table(text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text
