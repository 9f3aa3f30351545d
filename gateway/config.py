"""Settings: read once from the environment into a frozen dataclass.

Every setting has an environment variable; a bad value stops start-up with a ``ConfigError`` that
names the variable and says what it accepts. The README's settings table mirrors ``SETTINGS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from gateway import dotenv


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use; the message names the variable."""


_GUC_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_CHANNEL_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


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
    # -- GraphiQL and assets
    graphiql: bool = True
    """Serve GraphiQL on GET /graphql to browsers (and its files under /graphiql/assets/)."""
    assets_dir: Path | None = None
    """Where `gateway fetch-assets` puts GraphiQL's files; unset: gateway/static/vendor."""

    # -- security ---------------------------------------------------------------------------
    auth_mode: str = "jwt"
    """jwt, api-key or none. ``none`` only when asked for (the demo sets it)."""
    jwt_secret: str | None = None
    jwks_url: str | None = None
    jwt_algorithms: tuple[str, ...] = ()
    """Accepted algorithms; empty: HS256 with a secret, RS256 and ES256 with a JWKS."""
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: float = 30.0
    jwt_workspace_claim: str = "org_id"
    jwks_cache_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 10.0
    api_keys_file: Path | None = None
    api_keys: str | None = None
    introspection: bool = False
    max_depth: int = 20
    """The standard introspection query (GraphiQL's) is 15 deep; the Workspace graph at most 6."""
    max_aliases: int = 30
    max_cost: int = 50_000
    # -- operations: .env file, metrics, persisted queries --
    env_file: Path | None = None
    """The ``.env`` file the settings were read from, if any."""
    metrics: bool = True
    """Serve Prometheus metrics at ``/metrics``."""
    metrics_max_operations: int = 200
    """Distinct operation names labelled in metrics; later ones are counted as ``other``."""
    persisted_queries: str = "apq"
    """``off``, ``apq`` (Automatic Persisted Queries) or ``allowlist`` (only listed documents)."""
    persisted_queries_file: Path | None = None
    """Manifest (JSON) or directory of ``.graphql`` files: the allowlist, or APQ preloads."""
    apq_max_bytes: int = 8 * 1024 * 1024
    """Most bytes of documents the in-process APQ store keeps (least recently used go first)."""
    # -- history and live ------------------------------------------------------------------
    max_chain_check: int = 10_000
    """Most events `chainIntegrity(last:)` may walk."""
    live_tick_ms: int = 500
    """Milliseconds between two reads of new events by the live watcher."""
    live_notify_channel: str | None = None
    """PostgreSQL NOTIFY channel that wakes the watcher early; None: ticks only."""
    live_init_timeout: float = 5.0
    """Seconds a WebSocket may take to send `connection_init`."""
    live_idle_timeout: float = 120.0
    """Seconds a WebSocket without subscriptions may stay silent before it is closed."""
    live_max_per_connection: int = 100
    """Most operations running at once on one WebSocket."""
    live_max_subscriptions: int = 10_000
    """Most live subscriptions in one gateway process."""
    live_queue_size: int = 1000
    """Events waiting for one subscriber before it is dropped as a slow consumer."""
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
    # -- reliability: deadlines, backpressure, shutdown ---------------------------------------
    request_timeout: float = 10.0
    """Seconds a GraphQL query may run before it answers TIMEOUT (HTTP 504). Mutations are not
    cut midway: each write is bounded by ``mcp_call_timeout`` and says what became of it."""
    max_inflight: int = 256
    """GraphQL requests one process works on at once; beyond, OVERLOADED (503) at once."""
    shutdown_grace: int = 10
    """Seconds in-flight requests get to finish after SIGTERM before they are cancelled."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every ``SETTINGS`` variable from ``environ`` (default: the process environment
        over the ``.env`` file, see ``gateway.dotenv``)."""
        env = load_environment() if environ is None else environ
        where = env.where if isinstance(env, dotenv.Environment) else (lambda _name: "")
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            raw = env.get(spec.env)
            if raw is not None and raw != "":
                try:
                    values[spec.attr] = spec.parse(spec.env, raw)
                except ConfigError as exc:
                    raise ConfigError(f"{exc}{where(spec.env)}") from None
        if isinstance(env, dotenv.Environment) and env.file is not None:
            values["env_file"] = env.file
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
        self._check_auth()
        if self.live_notify_channel is not None and not _CHANNEL_NAME.match(
            self.live_notify_channel
        ):
            raise ConfigError(
                f"GATEWAY_LIVE_NOTIFY_CHANNEL={self.live_notify_channel!r} is not a channel name: "
                "use lowercase letters, digits and underscores (at most 63), e.g. kora_events"
            )
        if self.pool_min_size > self.pool_max_size:
            raise ConfigError(
                f"GATEWAY_POOL_MIN_SIZE={self.pool_min_size} is larger than "
                f"GATEWAY_POOL_MAX_SIZE={self.pool_max_size}"
            )
        if self.persisted_queries == "allowlist" and self.persisted_queries_file is None:
            raise ConfigError(
                "GATEWAY_PERSISTED_QUERIES=allowlist needs GATEWAY_PERSISTED_QUERIES_FILE: "
                "a JSON manifest or a directory of .graphql files (see `gateway persisted`)"
            )

    def _check_auth(self) -> None:
        if self.auth_mode == "jwt":
            if bool(self.jwt_secret) == bool(self.jwks_url):
                raise ConfigError(
                    "GATEWAY_AUTH_MODE=jwt needs exactly one of GATEWAY_JWT_SECRET (HS256) or "
                    "GATEWAY_JWKS_URL (RS256/ES256); or set GATEWAY_AUTH_MODE=api-key, or =none "
                    "to turn authentication off"
                )
            if self.jwt_secret and not self.demo and _placeholder(self.jwt_secret):
                raise ConfigError(
                    "GATEWAY_JWT_SECRET looks like a placeholder or is shorter than 32 characters;"
                    " use a long random secret (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)"
                )
            allowed = (
                {"HS256", "HS384", "HS512"}
                if self.jwt_secret
                else {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"}
            )
            bad = [a for a in self.jwt_algorithms if a not in allowed]
            if bad:
                raise ConfigError(
                    f"GATEWAY_JWT_ALGORITHMS has {', '.join(bad)}, not usable with "
                    f"{'a shared secret' if self.jwt_secret else 'a JWKS'}: use "
                    f"{', '.join(sorted(allowed))}"
                )
        if self.jwks_url and not self.jwks_url.startswith(("https://", "http://")):
            raise ConfigError(f"GATEWAY_JWKS_URL={self.jwks_url!r} must be an http(s) URL")
        if self.auth_mode == "api-key" and not (self.api_keys_file or self.api_keys):
            raise ConfigError(
                "GATEWAY_AUTH_MODE=api-key needs GATEWAY_API_KEYS_FILE or GATEWAY_API_KEYS "
                "(lines made by `gateway create-api-key`)"
            )
        if self.api_keys_file is not None and not self.api_keys_file.is_file():
            raise ConfigError(f"GATEWAY_API_KEYS_FILE={self.api_keys_file} is not a readable file")

    @property
    def accepted_jwt_algorithms(self) -> tuple[str, ...]:
        if self.jwt_algorithms:
            return self.jwt_algorithms
        return ("HS256",) if self.jwt_secret else ("RS256", "ES256")

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


_PLACEHOLDERS: Final = ("changeme", "change-me", "secret", "password", "example", "test", "xxx")


def _placeholder(secret: str) -> bool:
    lowered = secret.lower()
    return len(secret) < 32 or any(lowered.startswith(p) for p in _PLACEHOLDERS)


def load_environment(environ: Mapping[str, str] | None = None) -> dotenv.Environment:
    """The process environment over the ``.env`` file; a bad file raises ``ConfigError``."""
    try:
        return dotenv.load_environment(environ)
    except dotenv.EnvFileError as exc:
        raise ConfigError(str(exc)) from None


def _dsn(name: str, raw: str) -> str:
    if not raw.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"{name} must be a postgresql:// URL, e.g. "
            "postgresql://kora_reader:PASSWORD@db.example:5432/kora"
        )
    return raw


def _optional_path(_name: str, raw: str) -> Path:
    return Path(raw)


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
        _dsn,
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
    # -- security ---------------------------------------------------------------------------
    SettingSpec(
        "GATEWAY_AUTH_MODE",
        "auth_mode",
        lambda name, raw: _choice(name, raw, ("jwt", "api-key", "none")),
        "jwt, api-key or none (none only when asked for; the demo uses it)",
    ),
    SettingSpec(
        "GATEWAY_JWT_SECRET",
        "jwt_secret",
        lambda _n, raw: raw,
        "shared secret for HS256 tokens (32+ characters)",
        secret=True,
    ),
    SettingSpec(
        "GATEWAY_JWKS_URL",
        "jwks_url",
        lambda _n, raw: raw,
        "JWKS URL of the identity provider for RS256/ES256 tokens",
    ),
    SettingSpec(
        "GATEWAY_JWT_ALGORITHMS",
        "jwt_algorithms",
        lambda _n, raw: _csv(raw),
        "accepted algorithms (default HS256 with a secret, RS256,ES256 with a JWKS)",
    ),
    SettingSpec(
        "GATEWAY_JWT_ISSUER",
        "jwt_issuer",
        lambda _n, raw: raw,
        "required `iss` of tokens; unset: not checked",
    ),
    SettingSpec(
        "GATEWAY_JWT_AUDIENCE",
        "jwt_audience",
        lambda _n, raw: raw,
        "required `aud` of tokens; unset: not checked",
    ),
    SettingSpec(
        "GATEWAY_JWT_LEEWAY_SECONDS",
        "jwt_leeway_seconds",
        _spec_float(0, 300),
        "clock leeway for exp/nbf, in seconds",
    ),
    SettingSpec(
        "GATEWAY_JWT_WORKSPACE_CLAIM",
        "jwt_workspace_claim",
        lambda _n, raw: raw,
        "claim listing the caller's workspaces (a string or a list)",
    ),
    SettingSpec(
        "GATEWAY_JWKS_CACHE_SECONDS",
        "jwks_cache_seconds",
        _spec_float(1, 86_400),
        "how long JWKS keys are cached",
    ),
    SettingSpec(
        "GATEWAY_JWKS_MIN_REFRESH_SECONDS",
        "jwks_min_refresh_seconds",
        _spec_float(0, 3600),
        "least time between two JWKS fetches (unknown kid)",
    ),
    SettingSpec(
        "GATEWAY_API_KEYS_FILE",
        "api_keys_file",
        lambda _n, raw: Path(raw),
        "file of API key hash lines (made by `gateway create-api-key`)",
    ),
    SettingSpec(
        "GATEWAY_API_KEYS",
        "api_keys",
        lambda _n, raw: raw,
        "API key hash lines inline, separated by `;`",
    ),
    SettingSpec(
        "GATEWAY_INTROSPECTION",
        "introspection",
        _bool,
        "allow __schema/__type and field suggestions (on in the demo)",
    ),
    SettingSpec(
        "GATEWAY_MAX_DEPTH", "max_depth", _spec_int(1, 100), "deepest selection nesting accepted"
    ),
    SettingSpec(
        "GATEWAY_MAX_ALIASES",
        "max_aliases",
        _spec_int(0, 10_000),
        "most aliases in a document, fragments included",
    ),
    SettingSpec(
        "GATEWAY_MAX_COST",
        "max_cost",
        _spec_int(1, 100_000_000),
        "largest estimated cost (list sizes multiply) of an operation",
    ),
    SettingSpec(
        "GATEWAY_CORS_ORIGINS",
        "cors_origins",
        lambda _n, raw: _csv(raw),
        "comma-separated origins allowed by CORS; empty: none",
    ),
    # -- GraphiQL and assets
    SettingSpec(
        "GATEWAY_GRAPHIQL",
        "graphiql",
        _bool,
        "serve GraphiQL to browsers on GET /graphql",
    ),
    SettingSpec(
        "GATEWAY_ASSETS_DIR",
        "assets_dir",
        lambda _n, raw: Path(raw),
        "directory of GraphiQL's files (`gateway fetch-assets`); unset: inside the package",
    ),
    # -- operations: .env file, metrics, persisted queries --
    SettingSpec(
        "GATEWAY_ENV_FILE",
        "env_file",
        _optional_path,
        "the .env file to read (real environment wins over it); default ./.env if present",
    ),
    SettingSpec("GATEWAY_METRICS", "metrics", _bool, "serve Prometheus metrics at /metrics"),
    SettingSpec(
        "GATEWAY_METRICS_MAX_OPERATIONS",
        "metrics_max_operations",
        _spec_int(1, 10_000),
        "distinct operation names labelled in metrics; later ones count as `other`",
    ),
    SettingSpec(
        "GATEWAY_PERSISTED_QUERIES",
        "persisted_queries",
        lambda name, raw: _choice(name, raw.lower(), ("off", "apq", "allowlist")),
        "off, apq (Automatic Persisted Queries) or allowlist (only listed documents run)",
    ),
    SettingSpec(
        "GATEWAY_PERSISTED_QUERIES_FILE",
        "persisted_queries_file",
        _optional_path,
        "JSON manifest or directory of .graphql files: the allowlist, or APQ preloads",
    ),
    SettingSpec(
        "GATEWAY_APQ_MAX_BYTES",
        "apq_max_bytes",
        _spec_int(0, 1024 * 1024 * 1024),
        "most bytes of documents the in-process APQ store keeps (LRU)",
    ),
    # -- history and live ------------------------------------------------------------------
    SettingSpec(
        "GATEWAY_MAX_CHAIN_CHECK",
        "max_chain_check",
        _spec_int(1, 1_000_000),
        "most events chainIntegrity(last:) may walk",
    ),
    SettingSpec(
        "GATEWAY_LIVE_TICK_MS",
        "live_tick_ms",
        _spec_int(10, 60_000),
        "milliseconds between two reads of new events for live subscriptions",
    ),
    SettingSpec(
        "GATEWAY_LIVE_NOTIFY_CHANNEL",
        "live_notify_channel",
        lambda _n, raw: raw,
        "NOTIFY channel that wakes the live watcher at once (e.g. kora_events); empty: ticks only",
    ),
    SettingSpec(
        "GATEWAY_LIVE_INIT_TIMEOUT",
        "live_init_timeout",
        _spec_float(0.1, 600),
        "seconds a WebSocket may take to send connection_init (then closed with 4408)",
    ),
    SettingSpec(
        "GATEWAY_LIVE_IDLE_TIMEOUT",
        "live_idle_timeout",
        _spec_float(1, 86_400),
        "seconds a WebSocket without subscriptions may stay silent (then closed with 4408)",
    ),
    SettingSpec(
        "GATEWAY_LIVE_MAX_PER_CONNECTION",
        "live_max_per_connection",
        _spec_int(1, 10_000),
        "most operations running at once on one WebSocket",
    ),
    SettingSpec(
        "GATEWAY_LIVE_MAX_SUBSCRIPTIONS",
        "live_max_subscriptions",
        _spec_int(1, 1_000_000),
        "most live subscriptions in one gateway process",
    ),
    SettingSpec(
        "GATEWAY_LIVE_QUEUE_SIZE",
        "live_queue_size",
        _spec_int(1, 1_000_000),
        "events waiting for one subscriber before it is dropped as a slow consumer (4413)",
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
    # -- reliability: deadlines, backpressure, shutdown ---------------------------------------
    SettingSpec(
        "GATEWAY_REQUEST_TIMEOUT",
        "request_timeout",
        _spec_float(0.1, 3600),
        "seconds a GraphQL query may run before it answers TIMEOUT (504); writes are not cut",
    ),
    SettingSpec(
        "GATEWAY_MAX_INFLIGHT",
        "max_inflight",
        _spec_int(1, 100_000),
        "GraphQL requests a process works on at once; beyond, OVERLOADED (503) at once",
    ),
    SettingSpec(
        "GATEWAY_SHUTDOWN_GRACE",
        "shutdown_grace",
        _spec_int(0, 3600),
        "seconds in-flight requests get to finish after SIGTERM",
    ),
)
