"""The ``.env`` file: settings kept beside the gateway, below the real environment in precedence.

Precedence: a variable set in the process environment wins over the same variable in the file,
which wins over the built-in default. The file is ``GATEWAY_ENV_FILE`` when set (it must exist),
else ``./.env`` when present. Syntax, one variable a line::

    # a comment
    GATEWAY_PORT=8080
    export GATEWAY_LOG_FORMAT=text          # `export` is allowed, and trailing comments
    GATEWAY_CORS_ORIGINS='https://a.example,https://b.example'
    DATABASE_URL="postgresql://kora_reader:s3cret@db:5432/kora"

Single quotes keep the text as is; double quotes understand ``\\n``, ``\\t``, ``\\"`` and ``\\\\``.
There is no variable expansion: ``$HOME`` stays ``$HOME``. A line the parser cannot read stops
start-up with the file and line number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final


class EnvFileError(ValueError):
    """The ``.env`` file is missing or has a line the parser cannot read (file and line named)."""


ENV_FILE_VARIABLE: Final = "GATEWAY_ENV_FILE"
DEFAULT_ENV_FILE: Final = Path(".env")
_LINE: Final = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
_PLAIN: Final = re.compile(r"^[A-Za-z0-9_./:@,+=%-]*$")


def _unquote(raw: str, where: str) -> str:
    if raw[:1] == "'":
        end = raw.find("'", 1)
        if end < 0:
            raise EnvFileError(f"{where}: the single quote is never closed")
        value, rest = raw[1:end], raw[end + 1 :]
    elif raw[:1] == '"':
        chars: list[str] = []
        i = 1
        while i < len(raw) and raw[i] != '"':
            if raw[i] == "\\" and i + 1 < len(raw):
                chars.append(_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
                i += 2
            else:
                chars.append(raw[i])
                i += 1
        if i >= len(raw):
            raise EnvFileError(f"{where}: the double quote is never closed")
        value, rest = "".join(chars), raw[i + 1 :]
    elif raw[:1] == "#":
        return ""
    else:
        # An unquoted value ends at a comment that follows whitespace.
        return re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()
    rest = rest.strip()
    if rest and not rest.startswith("#"):
        raise EnvFileError(f"{where}: unexpected text after the closing quote: {rest!r}")
    return value


def parse_env_file(text: str, *, path: str) -> dict[str, str]:
    """The variables of a ``.env`` file's text; a line it cannot read raises ``EnvFileError``."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        where = f"{path}:{number}"
        if match is None:
            raise EnvFileError(f"{where}: expected NAME=value, got {stripped[:60]!r}")
        values[match.group(1)] = _unquote(match.group(2), where)
    return values


def quote(value: str) -> str:
    """``value`` written so that ``parse_env_file`` reads it back unchanged."""
    if _PLAIN.match(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class Environment(dict[str, str]):
    """The process environment over the ``.env`` file's variables; remembers which came from it."""

    def __init__(self, values: Mapping[str, str], *, file: Path | None, from_file: set[str]):
        super().__init__(values)
        self.file = file
        self.from_file = frozenset(from_file)

    def source(self, name: str) -> str:
        """Where a variable's value comes from: ``env``, ``.env`` or ``default``."""
        if name in self.from_file:
            return ".env"
        return "env" if self.get(name) else "default"

    def where(self, name: str) -> str:
        """A suffix for error messages naming the file when the variable came from it."""
        return f" (set in {self.file})" if name in self.from_file else ""


def env_file_path(environ: Mapping[str, str]) -> Path | None:
    """The ``.env`` file to read: ``GATEWAY_ENV_FILE`` (must exist), else ``./.env`` if present."""
    named = environ.get(ENV_FILE_VARIABLE, "")
    if named:
        path = Path(named)
        if not path.is_file():
            raise EnvFileError(f"{ENV_FILE_VARIABLE}={named!r}: no such file")
        return path
    return DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None


def load_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The process environment (default ``os.environ``) over the ``.env`` file's variables."""
    base = dict(os.environ if environ is None else environ)
    path = env_file_path(base)
    if path is None:
        return Environment(base, file=None, from_file=set())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"{ENV_FILE_VARIABLE}: cannot read {path}: {exc}") from None
    from_file = parse_env_file(text, path=str(path))
    shadowed = {name for name in from_file if base.get(name)}
    merged = {**from_file, **{k: v for k, v in base.items() if v or k not in from_file}}
    return Environment(merged, file=path.resolve(), from_file=set(from_file) - shadowed)
