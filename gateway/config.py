"""Settings: read once from the environment into a frozen dataclass.

Every setting has an environment variable; a bad value stops start-up with a ``ConfigError`` that
names the variable and says what it accepts. The README's settings table mirrors ``SETTINGS``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use; the message names the variable."""


_GUC_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


def _int(name: str, raw: str, *, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: use {low}..{high}")
    return value


def _float(name: str, raw: str, *, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: use {low}..{high}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use true or false")


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of: {', '.join(choices)}")
    return raw


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The gateway's effective configuration. Build it with ``Settings.from_env()``."""

    database_url: str | None = None
    """PostgreSQL DSN of the substrate, as the gateway's reader role. Unset: embedded PostgreSQL."""
    data_dir: Path = Path(".data")
    """Where the embedded PostgreSQL keeps its data (only without DATABASE_URL)."""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    rls_setting: str = "app.workspace_id"
    """Name of the GUC the kronicle.* row-level security policies read."""
    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_acquire_timeout: float = 2.0
    """Seconds a request waits for a pool connection before answering OVERLOADED."""
    statement_timeout_ms: int = 5000
    connect_timeout: float = 5.0
    max_limit: int = 500
    """Largest value accepted for any limit argument."""
    max_workspace_ids: int = 100
    max_body_bytes: int = 512 * 1024
    """Largest request body accepted (HTTP 413 above)."""
    max_query_bytes: int = 32 * 1024
    """Largest GraphQL document accepted, in bytes."""
    max_tokens: int = 5000
    """Most lexical tokens in a GraphQL document (parsing stops beyond)."""
    demo: bool = False
    """Demo mode: embedded database with demo data, relaxed defaults, said loudly at start."""
    log_format: str = "json"
    log_level: str = "info"
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    # -- writes (mutations, MCP write-through) --
    mcp_url: str | None = None
    """Streamable-HTTP endpoint of the substrate's MCP server. Unset: every write is deferred."""
    mcp_token: str | None = None
    """Bearer token sent to the MCP server, if it asks for one."""
    mcp_refresh_seconds: float = 15.0
    """How often the MCP server's tool list is fetched again (also refetched after a failure)."""
    mcp_call_timeout: float = 5.0
    """Seconds a tool call (or a tool listing) may take before the write answers MCP_TIMEOUT."""
    write_max_payload_bytes: int = 64 * 1024
    """Largest emitEvent payload, serialized as compact JSON, in bytes."""
    write_max_content_chars: int = 16 * 1024
    """Longest writeScratchpad content, in characters."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every ``SETTINGS`` variable from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            raw = env.get(spec.env)
            if raw is not None and raw != "":
                values[spec.attr] = spec.parse(spec.env, raw)
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field checks that a single variable cannot express."""
        if not _GUC_NAME.match(self.rls_setting):
            raise ConfigError(
                f"GATEWAY_RLS_SETTING={self.rls_setting!r} is not a custom setting name "
                "of the form 'prefix.name' (lowercase letters, digits, underscores)"
            )
        if self.pool_min_size > self.pool_max_size:
            raise ConfigError(
                f"GATEWAY_POOL_MIN_SIZE={self.pool_min_size} is larger than "
                f"GATEWAY_POOL_MAX_SIZE={self.pool_max_size}"
            )

    def redacted(self) -> dict[str, str]:
        """The effective settings by environment variable, secrets replaced by ``***``."""
        out: dict[str, str] = {}
        by_attr = {spec.attr: spec for spec in SETTINGS}
        for f in fields(self):
            spec = by_attr.get(f.name)
            if spec is None:
                continue
            value = getattr(self, f.name)
            if value is None:
                shown = ""
            elif spec.secret:
                shown = _redact_dsn(str(value)) if f.name in _URL_SECRETS else "***"
            elif isinstance(value, tuple):
                shown = ",".join(value)
            elif isinstance(value, bool):
                shown = "true" if value else "false"
            else:
                shown = str(value)
            out[spec.env] = shown
        return out


_URL_SECRETS: Final = frozenset({"database_url", "mcp_url"})
"""Secret settings that are URLs: only their password part is redacted."""


def _redact_dsn(dsn: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)


@dataclass(frozen=True)
class SettingSpec:
    env: str
    attr: str
    parse: Callable[[str, str], Any]
    help: str
    secret: bool = False


def _http_url(name: str, raw: str) -> str:
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", raw):
        raise ConfigError(
            f"{name}={raw!r} is not an http(s) URL: use the MCP server's streamable-HTTP "
            "endpoint, e.g. http://127.0.0.1:9000/mcp"
        )
    return raw


def _spec_int(low: int, high: int) -> Callable[[str, str], int]:
    return lambda name, raw: _int(name, raw, low=low, high=high)


def _spec_float(low: float, high: float) -> Callable[[str, str], float]:
    return lambda name, raw: _float(name, raw, low=low, high=high)


SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "DATABASE_URL",
        "database_url",
        lambda _n, raw: raw,
        "DSN of the substrate as the reader role; unset starts the embedded PostgreSQL",
        secret=True,
    ),
    SettingSpec(
        "GATEWAY_DATA_DIR",
        "data_dir",
        lambda _n, raw: Path(raw),
        "data directory of the embedded PostgreSQL",
    ),
    SettingSpec("GATEWAY_HOST", "host", lambda _n, raw: raw, "address to listen on"),
    SettingSpec("GATEWAY_PORT", "port", _spec_int(0, 65535), "port to listen on"),
    SettingSpec("GATEWAY_WORKERS", "workers", _spec_int(1, 64), "server processes"),
    SettingSpec(
        "GATEWAY_RLS_SETTING",
        "rls_setting",
        lambda _n, raw: raw,
        "GUC read by the kronicle.* row-level security policies",
    ),
    SettingSpec(
        "GATEWAY_POOL_MIN_SIZE",
        "pool_min_size",
        _spec_int(0, 1000),
        "connections kept open per process",
    ),
    SettingSpec(
        "GATEWAY_POOL_MAX_SIZE", "pool_max_size", _spec_int(1, 1000), "most connections per process"
    ),
    SettingSpec(
        "GATEWAY_POOL_ACQUIRE_TIMEOUT",
        "pool_acquire_timeout",
        _spec_float(0.01, 60),
        "seconds to wait for a free connection before answering OVERLOADED",
    ),
    SettingSpec(
        "GATEWAY_STATEMENT_TIMEOUT_MS",
        "statement_timeout_ms",
        _spec_int(1, 600_000),
        "statement_timeout of the gateway's connections, in milliseconds",
    ),
    SettingSpec(
        "GATEWAY_CONNECT_TIMEOUT",
        "connect_timeout",
        _spec_float(0.1, 120),
        "seconds to wait when opening a database connection",
    ),
    SettingSpec(
        "GATEWAY_MAX_LIMIT",
        "max_limit",
        _spec_int(1, 10_000),
        "largest value accepted for a limit argument",
    ),
    SettingSpec(
        "GATEWAY_MAX_WORKSPACE_IDS",
        "max_workspace_ids",
        _spec_int(1, 1000),
        "most ids accepted by workspaces(ids:)",
    ),
    SettingSpec(
        "GATEWAY_MAX_BODY_BYTES",
        "max_body_bytes",
        _spec_int(1024, 64 * 1024 * 1024),
        "largest request body accepted, in bytes (413 above)",
    ),
    SettingSpec(
        "GATEWAY_MAX_QUERY_BYTES",
        "max_query_bytes",
        _spec_int(64, 16 * 1024 * 1024),
        "largest GraphQL document accepted, in bytes",
    ),
    SettingSpec(
        "GATEWAY_MAX_TOKENS",
        "max_tokens",
        _spec_int(10, 1_000_000),
        "most lexical tokens in a GraphQL document",
    ),
    SettingSpec("GATEWAY_DEMO", "demo", _bool, "demo mode (set by `gateway demo`)"),
    SettingSpec(
        "GATEWAY_LOG_FORMAT",
        "log_format",
        lambda name, raw: _choice(name, raw, ("json", "text")),
        "json (one object per line) or text",
    ),
    SettingSpec(
        "GATEWAY_LOG_LEVEL",
        "log_level",
        lambda name, raw: _choice(name, raw.lower(), ("debug", "info", "warning", "error")),
        "debug, info, warning or error",
    ),
    SettingSpec(
        "GATEWAY_CORS_ORIGINS",
        "cors_origins",
        lambda _n, raw: _csv(raw),
        "comma-separated origins allowed by CORS; empty: none",
    ),
    # -- writes (mutations, MCP write-through) --
    SettingSpec(
        "GATEWAY_MCP_URL",
        "mcp_url",
        _http_url,
        "streamable-HTTP endpoint of the substrate's MCP server; unset: writes are deferred",
        secret=True,
    ),
    SettingSpec(
        "GATEWAY_MCP_TOKEN",
        "mcp_token",
        lambda _n, raw: raw,
        "bearer token sent to the MCP server (Authorization header); unset: none",
        secret=True,
    ),
    SettingSpec(
        "GATEWAY_MCP_REFRESH_SECONDS",
        "mcp_refresh_seconds",
        _spec_float(0.05, 3600),
        "seconds between two fetches of the MCP server's tool list",
    ),
    SettingSpec(
        "GATEWAY_MCP_CALL_TIMEOUT",
        "mcp_call_timeout",
        _spec_float(0.05, 120),
        "seconds a tool call may take before the write answers MCP_TIMEOUT",
    ),
    SettingSpec(
        "GATEWAY_WRITE_MAX_PAYLOAD_BYTES",
        "write_max_payload_bytes",
        _spec_int(2, 16 * 1024 * 1024),
        "largest emitEvent payload, as compact JSON, in bytes",
    ),
    SettingSpec(
        "GATEWAY_WRITE_MAX_CONTENT_CHARS",
        "write_max_content_chars",
        _spec_int(1, 1024 * 1024),
        "longest writeScratchpad content, in characters",
    ),
)
