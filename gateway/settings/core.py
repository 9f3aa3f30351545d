"""Settings: each declared once, as a field of ``Settings`` with its variable, range and meaning.

``Settings.from_env()`` reads every setting from the environment (over the ``.env`` file); a bad
value stops start-up with a ``ConfigError`` that names the variable and says what it accepts.
Overrides (``Settings.from_env(port=9000)``) are checked by the same parsers as the environment's
text. The README's settings table is generated from these fields (``gateway.settings.report``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from gateway.settings import dotenv


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use; the message names the variable."""


_GUC_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_CHANNEL_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_HTTP_URL: Final = re.compile(r"^https?://[^/\s]+(/\S*)?$")
EXPORTERS: Final = ("otlp", "console", "none")
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Spec:
    """How one setting is read: its variable, its meaning, and what it accepts."""

    env: str
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[str, str], str] | None = None
    """Validates a text value (raises ``ConfigError``) and returns it, possibly normalised."""
    secret: bool = False
    lower: bool = False


def setting(
    default: Any,
    help: str,
    *,
    env: str = "",
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    check: Callable[[str, str], str] | None = None,
    secret: bool = False,
    lower: bool = False,
) -> Any:
    """A ``Settings`` field; ``env`` defaults to ``GATEWAY_<NAME>``."""
    spec = Spec(env, help, low, high, choices, check, secret, lower)
    return dataclasses.field(default=default, metadata={"setting": spec})


def _dsn(name: str, raw: str) -> str:
    if not raw.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"{name} must be a postgresql:// URL, e.g. "
            "postgresql://kora_reader:PASSWORD@db.example:5432/kora"
        )
    return raw


def _dsns(name: str, raw: str) -> str:
    for dsn in _csv(raw):
        _dsn(name, dsn)
    return raw


def _http_url(name: str, raw: str) -> str:
    if not _HTTP_URL.match(raw):
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL, e.g. http://127.0.0.1:9000/mcp")
    return raw


def _exporters(name: str, raw: str) -> str:
    bad = [n for n in _csv(raw.lower()) if n not in EXPORTERS]
    if bad:
        raise ConfigError(
            f"{name}={raw!r}: {', '.join(bad)} is not an exporter the gateway knows: use "
            f"{', '.join(EXPORTERS)}"
        )
    return raw.lower()


def _networks(name: str, raw: str) -> str:
    for entry in _csv(raw):
        if entry in ("*", "none"):
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"{name}: {entry!r} is not an IP address or network: use addresses or CIDR "
                "networks (e.g. 10.0.0.0/8,127.0.0.1), `*` for any peer, `none` for no one"
            ) from None
    return raw


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The gateway's effective configuration. Build it with ``Settings.from_env()``."""

    database_url: str | None = setting(
        None,
        "DSN of the substrate as the reader role; unset starts the embedded PostgreSQL",
        env="DATABASE_URL",
        check=_dsn,
        secret=True,
    )
    data_dir: Path = setting(Path(".data"), "data directory of the embedded PostgreSQL")
    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(8000, "port to listen on", low=0, high=65535)
    workers: int = setting(1, "server processes", low=1, high=64)
    rls_setting: str = setting(
        "app.workspace_id", "GUC read by the kronicle.* row-level security policies"
    )
    pool_min_size: int = setting(2, "connections kept open per process", low=0, high=1000)
    pool_max_size: int = setting(10, "most connections per process", low=1, high=1000)
    pool_acquire_timeout: float = setting(
        2.0,
        "seconds to wait for a free connection before answering OVERLOADED",
        low=0.01,
        high=60,
    )
    statement_timeout_ms: int = setting(
        5000,
        "statement_timeout of the gateway's connections, in milliseconds",
        low=1,
        high=600_000,
    )
    connect_timeout: float = setting(
        5.0, "seconds to wait when opening a database connection", low=0.1, high=120
    )
    max_limit: int = setting(500, "largest value accepted for a limit argument", low=1, high=10_000)
    max_workspace_ids: int = setting(
        100, "most ids accepted by workspaces(ids:) and nodes(ids:)", low=1, high=1000
    )
    max_body_bytes: int = setting(
        512 * 1024,
        "largest request body accepted, in bytes (413 above)",
        low=16,
        high=64 * 1024 * 1024,
    )
    max_query_bytes: int = setting(
        32 * 1024, "largest GraphQL document accepted, in bytes", low=64, high=16 * 1024 * 1024
    )
    max_tokens: int = setting(
        5000, "most lexical tokens in a GraphQL document", low=10, high=1_000_000
    )
    demo: bool = setting(False, "demo mode (set by `gateway demo`)")
    log_format: str = setting(
        "json", "json (one object per line) or text", choices=("json", "text")
    )
    log_level: str = setting(
        "info",
        "debug, info, warning or error",
        choices=("debug", "info", "warning", "error"),
        lower=True,
    )
    # -- security ---------------------------------------------------------------------------
    auth_mode: str = setting(
        "jwt",
        "jwt, api-key or none (none only when asked for; the demo uses it)",
        choices=("jwt", "api-key", "none"),
    )
    jwt_secret: str | None = setting(
        None, "shared secret for HS256 tokens (32+ characters)", secret=True
    )
    jwks_url: str | None = setting(None, "JWKS URL of the identity provider for RS256/ES256 tokens")
    jwt_algorithms: tuple[str, ...] = setting(
        (), "accepted algorithms (default HS256 with a secret, RS256,ES256 with a JWKS)"
    )
    jwt_issuer: str | None = setting(None, "required `iss` of tokens; unset: not checked")
    jwt_audience: str | None = setting(None, "required `aud` of tokens; unset: not checked")
    jwt_leeway_seconds: float = setting(
        30.0, "clock leeway for exp/nbf, in seconds", low=0, high=300
    )
    jwt_workspace_claim: str = setting(
        "org_id", "claim listing the caller's workspaces (a string or a list)"
    )
    jwks_cache_seconds: float = setting(300.0, "how long JWKS keys are cached", low=1, high=86_400)
    jwks_min_refresh_seconds: float = setting(
        10.0, "least time between two JWKS fetches (unknown kid)", low=0, high=3600
    )
    api_keys_file: Path | None = setting(
        None, "file of API key hash lines (made by `gateway create-api-key`)"
    )
    api_keys: str | None = setting(None, "API key hash lines inline, separated by `;`")
    introspection: bool = setting(
        False, "allow __schema/__type and field suggestions (on in the demo)"
    )
    max_depth: int = setting(20, "deepest selection nesting accepted", low=1, high=100)
    max_aliases: int = setting(
        30, "most aliases in a document, fragments included", low=0, high=10_000
    )
    max_cost: int = setting(
        50_000,
        "largest estimated cost (list sizes multiply) of an operation",
        low=1,
        high=100_000_000,
    )
    max_field_repeats: int = setting(
        50,
        "most fields under one response key in one selection set, fragments included",
        low=1,
        high=10_000,
    )
    cors_origins: tuple[str, ...] = setting(
        (), "comma-separated origins allowed by CORS; empty: none"
    )
    allowed_hosts: tuple[str, ...] = setting(
        (),
        "host names answered (the Host header), comma-separated, `*` any; empty: the "
        "loopback names in demo mode, any otherwise",
    )
    cors_allow_headers: tuple[str, ...] = setting(
        (
            "authorization",
            "content-type",
            "x-request-id",
            "traceparent",
            "tracestate",
            "apollographql-client-name",
            "apollographql-client-version",
            "kora-read-after",
        ),
        "request headers a browser may send cross-origin (the CORS preflight's answer); * for any",
        lower=True,
    )
    trusted_proxies: tuple[str, ...] = setting(
        ("127.0.0.1", "::1"),
        "addresses or networks (CIDR) of the proxies in front, comma-separated; only from "
        "these are X-Forwarded-For, X-Forwarded-Proto and X-Request-ID believed; `*` any "
        "peer, `none` no one",
        check=_networks,
    )
    # -- GraphiQL and assets ----------------------------------------------------------------
    graphiql: bool = setting(True, "serve GraphiQL to browsers on GET /graphql")
    assets_dir: Path | None = setting(
        None,
        "directory of GraphiQL's files (`gateway fetch-assets`); unset: inside the package",
    )
    # -- operations: .env file, metrics, tracing, persisted queries -------------------------
    env_file: Path | None = setting(
        None,
        "the .env file to read (real environment wins over it); default ./.env if present",
    )
    metrics: bool = setting(True, "serve Prometheus metrics at /metrics")
    metrics_token: str | None = setting(
        None,
        "bearer token /metrics requires (32+ characters); unset: /metrics answers 401, but "
        "in demo mode",
        secret=True,
    )
    metrics_max_operations: int = setting(
        200,
        "distinct operation names labelled in metrics; later ones count as `other`",
        low=1,
        high=10_000,
    )
    otel_sdk_disabled: bool = setting(
        False, "true turns tracing off whatever else OTEL_* says", env="OTEL_SDK_DISABLED"
    )
    otel_traces_exporter: str | None = setting(
        None,
        "span exporters: otlp, console or none (comma-separated); unset: otlp when an "
        "endpoint is set, else tracing is off",
        env="OTEL_TRACES_EXPORTER",
        check=_exporters,
    )
    otel_exporter_otlp_endpoint: str | None = setting(
        None,
        "OTLP/HTTP collector base URL (spans go to <url>/v1/traces)",
        env="OTEL_EXPORTER_OTLP_ENDPOINT",
        check=_http_url,
    )
    otel_exporter_otlp_traces_endpoint: str | None = setting(
        None,
        "OTLP/HTTP URL for spans, used as is (wins over OTEL_EXPORTER_OTLP_ENDPOINT)",
        env="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        check=_http_url,
    )
    otel_service_name: str | None = setting(
        None, "service.name of the spans; unset: kora-gateway", env="OTEL_SERVICE_NAME"
    )
    persisted_queries: str = setting(
        "apq",
        "off, apq (Automatic Persisted Queries) or allowlist (only listed documents run)",
        choices=("off", "apq", "allowlist"),
        lower=True,
    )
    persisted_queries_file: Path | None = setting(
        None, "JSON manifest or directory of .graphql files: the allowlist, or APQ preloads"
    )
    apq_max_bytes: int = setting(
        8 * 1024 * 1024,
        "most bytes of documents the in-process APQ store keeps (LRU)",
        low=0,
        high=1024 * 1024 * 1024,
    )
    persisted_get_max_age: int = setting(
        0,
        "max-age (seconds) of GET answers of persisted documents, sent with an ETag "
        "(private when authenticated; 0: revalidate every time, 304 when unchanged)",
        low=0,
        high=31_536_000,
    )
    # -- history and live -------------------------------------------------------------------
    max_chain_check: int = setting(
        10_000, "most events chainIntegrity(last:) may walk", low=1, high=1_000_000
    )
    live_tick_ms: int = setting(
        500,
        "milliseconds between two reads of new events for live subscriptions",
        low=10,
        high=60_000,
    )
    live_notify_channel: str | None = setting(
        None,
        "NOTIFY channel that wakes the live watcher at once (e.g. kora_events); empty: ticks only",
    )
    live_init_timeout: float = setting(
        5.0,
        "seconds a WebSocket may take to send connection_init (then closed with 4408)",
        low=0.1,
        high=600,
    )
    live_idle_timeout: float = setting(
        120.0,
        "seconds a WebSocket without subscriptions may stay silent (then closed with 4408)",
        low=0.1,
        high=86_400,
    )
    live_max_per_connection: int = setting(
        100, "most operations running at once on one WebSocket", low=1, high=10_000
    )
    live_max_subscriptions: int = setting(
        10_000, "most live subscriptions in one gateway process", low=1, high=1_000_000
    )
    live_queue_size: int = setting(
        1000,
        "events waiting for one subscriber before it is dropped as a slow consumer (4413)",
        low=1,
        high=1_000_000,
    )
    live_heartbeat_seconds: float = setting(
        15.0,
        "seconds a quiet HTTP stream (SSE, multipart) waits before a heartbeat keeps proxies "
        "from cutting it",
        low=0.05,
        high=3600,
    )
    # -- writes (mutations, MCP write-through) ----------------------------------------------
    mcp_url: str | None = setting(
        None,
        "streamable-HTTP endpoint of the substrate's MCP server; unset: writes are deferred",
        check=_http_url,
        secret=True,
    )
    mcp_token: str | None = setting(
        None,
        "bearer token sent to the MCP server (Authorization header); unset: none",
        secret=True,
    )
    mcp_refresh_seconds: float = setting(
        15.0, "seconds between two fetches of the MCP server's tool list", low=0.05, high=3600
    )
    mcp_call_timeout: float = setting(
        5.0,
        "seconds a tool call may take before the write answers MCP_TIMEOUT",
        low=0.05,
        high=120,
    )
    write_max_payload_bytes: int = setting(
        64 * 1024,
        "largest emitEvent payload, as compact JSON, in bytes",
        low=2,
        high=16 * 1024 * 1024,
    )
    write_max_content_chars: int = setting(
        16 * 1024, "longest writeScratchpad content, in characters", low=1, high=1024 * 1024
    )
    idempotency_ttl_seconds: float = setting(
        86_400.0,
        "seconds a process remembers a write sent to a tool without idempotency_key, to answer "
        "its retries with the first write's result",
        low=1,
        high=30 * 86_400,
    )
    idempotency_max_keys: int = setting(
        10_000,
        "most such writes a process remembers; the oldest are forgotten first",
        low=1,
        high=10_000_000,
    )
    # -- reliability: deadlines, backpressure, shutdown -------------------------------------
    request_timeout: float = setting(
        10.0,
        "seconds a GraphQL query may run before it answers TIMEOUT (504); writes are not cut",
        low=0.1,
        high=3600,
    )
    max_inflight: int = setting(
        256,
        "GraphQL requests a process works on at once; beyond, OVERLOADED (503) at once",
        low=1,
        high=100_000,
    )
    drain_seconds: float = setting(
        5.0,
        "seconds after SIGTERM during which the process still serves while /readyz answers 503 "
        "(draining) and every answer carries Connection: close; then it stops accepting",
        low=0,
        high=3600,
    )
    shutdown_grace: int = setting(
        10,
        "seconds in-flight requests get to finish once the process stops accepting",
        low=0,
        high=3600,
    )
    body_timeout: float = setting(
        10.0,
        "seconds a request body may take to arrive; then 408 and the connection is closed",
        low=0.1,
        high=3600,
    )
    header_timeout: float = setting(
        10.0,
        "seconds a connection may take to send a request's line and headers; then it is closed",
        low=0.1,
        high=3600,
    )
    max_header_bytes: int = setting(
        16 * 1024,
        "largest request line and headers, in bytes (431 above)",
        low=1024,
        high=1024 * 1024,
    )
    # -- scale: connection pooler, read replicas, reads after writes ------------------------
    db_pool_mode: str = setting(
        "session",
        "session (a connection per client session) or transaction (behind PgBouncer's "
        "pool_mode = transaction: settings per transaction, no named prepared statements)",
        choices=("session", "transaction"),
        lower=True,
    )
    replica_urls: tuple[str, ...] = setting(
        (),
        "comma-separated DSNs of read replicas (or their poolers): reads go there, the primary "
        "(DATABASE_URL) serves reads only when no replica can",
        check=_dsns,
        secret=True,
    )
    replica_max_lag_ms: int = setting(
        3000,
        "a replica whose replay is this many milliseconds behind the primary takes no reads",
        low=0,
        high=3_600_000,
    )
    replica_check_ms: int = setting(
        250,
        "milliseconds between two health checks of each database (a failed one is taken out)",
        low=10,
        high=60_000,
    )
    read_after_wait_ms: int = setting(
        100,
        "most milliseconds a read sent with Kora-Read-After waits for a replica to replay the "
        "write; then the primary serves it",
        low=0,
        high=60_000,
    )
    listen_url: str | None = setting(
        None,
        "DSN the live watcher LISTENs on: a direct connection to the primary, never a "
        "transaction pooler; unset: DATABASE_URL",
        check=_dsn,
        secret=True,
    )

    @classmethod
    def specs(cls) -> Iterator[tuple[str, type, Spec]]:
        """(attribute, type, spec) of every setting, in declaration order."""
        for f in dataclasses.fields(cls):
            yield f.name, _TYPES[f.name], f.metadata["setting"]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Every setting from ``environ`` (default: the process environment over the ``.env``
        file, see ``gateway.settings.dotenv``), then ``overrides`` by attribute name; both
        checked by the same parsers."""
        env = load_environment() if environ is None else environ
        where = env.where if isinstance(env, dotenv.Environment) else (lambda _name: "")
        values: dict[str, Any] = {}
        for attr, kind, spec in cls.specs():
            raw = env.get(spec.env)
            if raw is not None and raw != "":
                try:
                    values[attr] = _parse(spec, kind, raw)
                except ConfigError as exc:
                    raise ConfigError(f"{exc}{where(spec.env)}") from None
        if isinstance(env, dotenv.Environment) and env.file is not None:
            values["env_file"] = env.file
        specs = {attr: (kind, spec) for attr, kind, spec in cls.specs()}
        for attr, value in overrides.items():
            if attr not in specs:
                raise ConfigError(f"{attr!r} is not a setting")
            kind, spec = specs[attr]
            values[attr] = None if value is None else _parse(spec, kind, _text(value))
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
        channel = self.live_notify_channel
        if channel is not None and not _CHANNEL_NAME.match(channel):
            raise ConfigError(
                f"GATEWAY_LIVE_NOTIFY_CHANNEL={channel!r} is not a channel name: "
                "use lowercase letters, digits and underscores (at most 63), e.g. kora_events"
            )
        if self.pool_min_size > self.pool_max_size:
            raise ConfigError(
                f"GATEWAY_POOL_MIN_SIZE={self.pool_min_size} is larger than "
                f"GATEWAY_POOL_MAX_SIZE={self.pool_max_size}"
            )
        if self.metrics_token and not self.demo and _placeholder(self.metrics_token):
            raise ConfigError(
                "GATEWAY_METRICS_TOKEN looks like a placeholder or is shorter than 32 characters;"
                " use a long random token"
            )
        self._check_scale()
        if self.persisted_queries == "allowlist" and self.persisted_queries_file is None:
            raise ConfigError(
                "GATEWAY_PERSISTED_QUERIES=allowlist needs GATEWAY_PERSISTED_QUERIES_FILE: "
                "a JSON manifest or a directory of .graphql files (see `gateway persisted`)"
            )

    def _check_scale(self) -> None:
        if (
            self.db_pool_mode == "transaction"
            and self.live_notify_channel is not None
            and self.listen_url is None
        ):
            raise ConfigError(
                "GATEWAY_LIVE_NOTIFY_CHANNEL with GATEWAY_DB_POOL_MODE=transaction needs "
                "GATEWAY_LISTEN_URL: a direct connection to the primary (LISTEN does not survive "
                "a transaction pooler, and a standby refuses it)"
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
    def hosts(self) -> frozenset[str] | None:
        """The host names answered; None: any."""
        if "*" in self.allowed_hosts:
            return None
        if self.allowed_hosts:
            return frozenset(self.allowed_hosts)
        return LOOPBACK_HOSTS if self.demo else None

    @property
    def accepted_jwt_algorithms(self) -> tuple[str, ...]:
        if self.jwt_algorithms:
            return self.jwt_algorithms
        return ("HS256",) if self.jwt_secret else ("RS256", "ES256")

    def redacted(self) -> dict[str, str]:
        """The effective settings by environment variable, secrets replaced by ``***`` (URLs:
        only their password)."""
        out: dict[str, str] = {}
        for attr, _kind, spec in self.specs():
            value = getattr(self, attr)
            if value is None:
                shown = ""
            elif spec.secret:
                urls = spec.check in (_dsn, _dsns, _http_url)
                shown = _redact_url(_text(value)) if urls else "***"
            else:
                shown = _text(value)
            out[spec.env] = shown
        return out


def _resolve_types() -> dict[str, type]:
    """Each setting's type, without ``None``; every field must be a setting with a variable."""
    hints = typing.get_type_hints(Settings)
    kinds: dict[str, type] = {}
    for f in dataclasses.fields(Settings):
        spec = f.metadata.get("setting")
        if not isinstance(spec, Spec):
            raise TypeError(f"Settings.{f.name} is not declared with setting()")
        if not spec.env:
            object.__setattr__(spec, "env", f"GATEWAY_{f.name.upper()}")
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) is not tuple and args:
            kind = args[0]
        kinds[f.name] = tuple if typing.get_origin(kind) is tuple else kind
    return kinds


_TYPES: Final = _resolve_types()


def _parse(spec: Spec, kind: type, raw: str) -> Any:
    """A setting's value from its text, checked; ``ConfigError`` naming the variable."""
    name = spec.env
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}={raw!r} is not a boolean: use true or false")
    if kind in (int, float):
        try:
            number: float = int(raw) if kind is int else float(raw)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name}={raw!r} is not {what}") from None
        low = spec.low if spec.low is not None else float("-inf")
        high = spec.high if spec.high is not None else float("inf")
        if not low <= number <= high:
            raise ConfigError(f"{name}={number} is out of range: use {_num(low)}..{_num(high)}")
        return number
    text = raw.lower() if spec.lower else raw
    if spec.choices and text not in spec.choices:
        raise ConfigError(f"{name}={text!r} is not one of: {', '.join(spec.choices)}")
    if spec.check is not None:
        text = spec.check(name, text)
    if kind is tuple:
        return _csv(text)
    return Path(text) if kind is Path else text


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _text(value: Any) -> str:
    """A value as the environment would carry it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


_PLACEHOLDERS: Final = ("changeme", "change-me", "secret", "password", "example", "test", "xxx")


def _placeholder(secret: str) -> bool:
    lowered = secret.lower()
    return len(secret) < 32 or any(lowered.startswith(p) for p in _PLACEHOLDERS)


def _redact_url(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def load_environment(environ: Mapping[str, str] | None = None) -> dotenv.Environment:
    """The process environment over the ``.env`` file; a bad file raises ``ConfigError``."""
    try:
        return dotenv.load_environment(environ)
    except dotenv.EnvFileError as exc:
        raise ConfigError(str(exc)) from None
