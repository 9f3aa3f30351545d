"""The ``gateway`` command: serve | demo | export-schema | config | persisted-manifest."""

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

from gateway.config import ConfigError, Settings, load_environment
from gateway.config_report import unknown_variables

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

    from gateway.operations import preflight

    progress = Progress(enabled=demo or sys.stderr.isatty())
    pg = None
    env = dict(load_environment())
    for warning in unknown_variables(env):
        print(f"gateway: warning: {warning}", file=sys.stderr)
    preflight(settings, env)  # fail before starting anything on a bad manifest or OTEL_* value
    if not settings.database_url:
        pg, reader_dsn = _start_embedded(settings, progress)
        env["DATABASE_URL"] = reader_dsn
    if demo:
        env.setdefault("GATEWAY_DEMO", "true")
        env.setdefault("GATEWAY_LOG_FORMAT", "text")
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


def _config(args: argparse.Namespace) -> int:
    from gateway import config_report

    if args.markdown:
        sys.stdout.write(config_report.markdown_table())
        return 0
    if args.update_readme:
        changed = config_report.update_readme(Path(args.update_readme))
        print(f"{args.update_readme}: settings table {'updated' if changed else 'unchanged'}")
        return 0
    env = load_environment()
    settings = Settings.from_env(env)
    for warning in unknown_variables(env):
        print(f"gateway: warning: {warning}", file=sys.stderr)
    if args.json:
        sys.stdout.buffer.write(config_report.json_report(settings, env))
    else:
        print("\n".join(config_report.env_lines(settings, env)))
    return 0


def _persisted_manifest(args: argparse.Namespace) -> int:
    from gateway import manifest
    from gateway.api.schema import build_schema
    from gateway.execution import DocumentCache

    documents = DocumentCache(build_schema()._schema)
    found = manifest.read_sources(Path(source) for source in args.sources)
    rendered = manifest.render(manifest.check(found, documents.prepare))
    if args.check:
        current = Path(args.output).read_bytes() if Path(args.output).is_file() else b""
        if current != rendered:
            print(
                f"{args.output} is out of date: run `gateway persisted-manifest`.", file=sys.stderr
            )
            return 1
        return 0
    if args.output == "-":
        sys.stdout.buffer.write(rendered)
    else:
        Path(args.output).write_bytes(rendered)
        print(f"{args.output}: {len(found)} documents", file=sys.stderr)
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
    p = sub.add_parser("config", help="print the effective settings, secrets redacted")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="as JSON, with each value's source")
    how.add_argument("--markdown", action="store_true", help="the README's settings table")
    how.add_argument("--update-readme", metavar="README", help="rewrite that README's table")
    p = sub.add_parser(
        "persisted-manifest",
        help="build a persisted-query manifest (sha256 → document) from .graphql files",
    )
    p.add_argument("sources", nargs="+", help=".graphql/.gql files, directories or manifests")
    p.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "export-schema":
            return _export_schema(args.output, args.check)
        if args.command == "config":
            return _config(args)
        if args.command == "persisted-manifest":
            return _persisted_manifest(args)
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
        return _serve(settings, demo=args.command == "demo")
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
