"""The ``gateway`` command: serve | demo | export-schema | config."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gateway.config import SETTINGS, ConfigError, Settings

DEMO_QUERY = """{
  workspace(id: "org_2fXkKoraDemo01") {
    displayName
    constitution { revisionId rulesHash }
    events(limit: 3) { eventType occurredAt payloadText }
  }
}"""


class Progress:
    """Says what start-up is doing and how long each step took."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def step(self, label: str, action: Callable[[], Any]) -> Any:
        if self.enabled:
            print(f"  {label:<28}", end="", flush=True, file=sys.stderr)
        started = time.perf_counter()
        result = action()
        if self.enabled:
            print(f"done in {time.perf_counter() - started:.2f} s", file=sys.stderr)
        return result


def _start_embedded(settings: Settings, progress: Progress) -> tuple[Any, str]:
    """Start the embedded PostgreSQL, provision the substrate and demo data; the reader's DSN."""
    from gateway import embedded, substrate

    data_dir = settings.data_dir.resolve() / "pg"
    pg = progress.step(f"PostgreSQL ({data_dir})"[:28], lambda: embedded.start_embedded(data_dir))
    reader_password = secrets.token_urlsafe(24)
    writer_password = secrets.token_urlsafe(24)
    progress.step(
        "schema, roles, demo data",
        lambda: asyncio.run(
            substrate.provision(
                pg.admin_dsn,
                reader_password=reader_password,
                writer_password=writer_password,
                demo=True,
            )
        ),
    )
    return pg, pg.dsn_for(substrate.READER_ROLE, reader_password)


def _serve(settings: Settings, *, demo: bool) -> int:
    import uvicorn

    progress = Progress(enabled=demo or sys.stderr.isatty())
    pg = None
    env = dict(os.environ)
    if not settings.database_url:
        pg, reader_dsn = _start_embedded(settings, progress)
        env["DATABASE_URL"] = reader_dsn
    if demo:
        env.setdefault("GATEWAY_DEMO", "true")
        env.setdefault("GATEWAY_LOG_FORMAT", "text")
        env.setdefault("GATEWAY_LIVE_NOTIFY_CHANNEL", "kora_events")  # the demo DDL notifies
    env["GATEWAY_HOST"], env["GATEWAY_PORT"] = settings.host, str(settings.port)
    env["GATEWAY_WORKERS"] = str(settings.workers)
    os.environ.update(env)
    effective = Settings.from_env()  # fail here, before forking workers, on any bad value
    if demo:
        url = f"http://{effective.host}:{effective.port}/graphql"
        print(f"\n  GraphiQL: {url}\n  Paste this query:\n\n{DEMO_QUERY}\n", file=sys.stderr)
        print("  DEMO MODE: no authentication, demo data, introspection on.\n", file=sys.stderr)
    try:
        uvicorn.run(
            "gateway.app:app_from_env",
            factory=True,
            host=effective.host,
            port=effective.port,
            workers=effective.workers,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        if pg is not None:
            pg.close()
    return 0


def _export_schema(output: str | None, check: bool) -> int:
    from gateway.api.schema import export_sdl

    sdl = export_sdl()
    if check:
        current = Path(output or "schema.graphql").read_text(encoding="utf-8")
        if current != sdl:
            print(
                "schema.graphql differs from the code: run `gateway export-schema`.",
                file=sys.stderr,
            )
            return 1
        return 0
    if output:
        Path(output).write_text(sdl, encoding="utf-8")
    else:
        sys.stdout.write(sdl)
    return 0


def _config(settings: Settings) -> int:
    helps = {spec.env: spec.help for spec in SETTINGS}
    for name, value in settings.redacted().items():
        print(f"{name}={value}    # {helps[name]}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "serve the GraphQL API (embedded PostgreSQL when DATABASE_URL is unset)"),
        ("demo", "embedded PostgreSQL + demo data + GraphiQL, no authentication"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host", help="address to listen on (GATEWAY_HOST)")
        p.add_argument("--port", type=int, help="port to listen on (GATEWAY_PORT)")
        p.add_argument("--workers", type=int, help="server processes (GATEWAY_WORKERS)")
        p.add_argument("--data-dir", help="embedded PostgreSQL data (GATEWAY_DATA_DIR)")
    p = sub.add_parser("export-schema", help="print or write the GraphQL SDL")
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    sub.add_parser("config", help="print the effective settings, secrets redacted")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "export-schema":
            return _export_schema(args.output, args.check)
        overrides: dict[str, Any] = {}
        for attr in ("host", "port", "workers"):
            value = getattr(args, attr, None)
            if value is not None:
                overrides[attr] = value
        if getattr(args, "data_dir", None):
            overrides["data_dir"] = Path(args.data_dir)
        if args.command == "demo":
            overrides["demo"] = True
            os.environ.pop("DATABASE_URL", None)
        settings = Settings.from_env(**overrides)
        if args.command == "config":
            return _config(settings)
        return _serve(settings, demo=args.command == "demo")
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
