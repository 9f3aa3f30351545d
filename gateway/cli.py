"""The ``gateway`` command: serve | demo | export-schema | config | fetch-assets |
persisted-manifest."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from gateway.settings import ConfigError, Settings, load_environment
from gateway.settings.report import unknown_variables
from gateway.transport.assets import DEFAULT_REGISTRY

DEMO_BANNER = """
  GraphiQL  {url}/graphql   (opens with a query for the demo workspace)
  curl      curl -s {url}/graphql -H 'content-type: application/json' \\
              -d '{{"query": "{{ workspace(id: \\"org_2fXkKoraDemo01\\") {{ displayName }} }}"}}'

  DEMO MODE: no authentication, demo data, introspection on, and browser apps on
  http://localhost:<any port> and http://127.0.0.1:<any port> allowed (CORS). Ctrl-C stops.
"""
MISSING_ASSETS = """  GraphiQL's files are missing: run `gateway fetch-assets` (no restart needed).
"""

DEMO_DEFAULTS = {
    "GATEWAY_DEMO": "true",
    "GATEWAY_AUTH_MODE": "none",
    "GATEWAY_INTROSPECTION": "true",
    "GATEWAY_LOG_FORMAT": "text",
    "GATEWAY_LIVE_NOTIFY_CHANNEL": "kora_events",  # the demo DDL notifies on it
    "GATEWAY_DRAIN_SECONDS": "0",  # no load balancer to drain from
}
"""What `gateway demo` sets unless the environment says otherwise."""


class _Stopped(KeyboardInterrupt):
    """SIGTERM reached the serving process: unwind like Ctrl-C does, clean up, exit 0."""


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signal.Signals(signum).name)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """During clean-up a second stop signal changes nothing: clean-up is bounded anyway."""


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""Held off during clean-up. Only SIGTERM needs our handler: Python turns SIGINT into
KeyboardInterrupt itself (uvicorn swallows it after its shutdown; start-up says "interrupted")."""


def _serve(settings: Settings, *, demo: bool) -> int:
    """Serve until SIGTERM or Ctrl-C; on SIGTERM drain first (GATEWAY_DRAIN_SECONDS, see
    ``gateway.transport.drain``); then finish in-flight requests (up to
    GATEWAY_SHUTDOWN_GRACE), close the pool, stop the embedded PostgreSQL if this process
    started it, and exit 0.

    uvicorn takes these signals over while it serves and, once its graceful shutdown is done,
    raises the signal again against the handler it found: for SIGTERM ours, which unwinds to the
    clean-up (by default the process would die on it, leaving the embedded PostgreSQL running).
    With several workers, uvicorn's supervisor stops them and returns normally.
    """
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    signal.signal(signal.SIGTERM, _raise_stopped)
    started: list[Any] = []
    try:
        return _run(settings, demo=demo, started=started)
    except _Stopped:
        return 0
    finally:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, _ignore)
        try:
            for pg in started:
                pg.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _run(settings: Settings, *, demo: bool, started: list[Any]) -> int:
    """Start the embedded PostgreSQL when needed (appended to ``started``), then uvicorn."""
    import uvicorn

    from gateway.app import preflight
    from gateway.dev.startup import Progress, ReadyWatch, browser_url, start_embedded
    from gateway.observe.logs import configure_logging
    from gateway.transport.assets import default_assets_dir, load_assets
    from gateway.transport.shutdown import DrainingHttpProtocol

    progress = Progress(enabled=demo or sys.stderr.isatty())
    if demo:
        progress.say("kora-gateway demo: starting")
    env = dict(load_environment())
    for warning in unknown_variables(env):
        print(f"gateway: warning: {warning}", file=sys.stderr)
    preflight(settings)  # fail before starting anything on a bad persisted-documents file
    if not settings.database_url:
        try:
            pg, reader_dsn = start_embedded(settings.data_dir, progress, demo=demo)
        except (RuntimeError, OSError) as exc:
            print(f"gateway: could not start the embedded PostgreSQL: {exc}", file=sys.stderr)
            return 1
        started.append(pg)
        env["DATABASE_URL"] = reader_dsn
    env["GATEWAY_HOST"], env["GATEWAY_PORT"] = settings.host, str(settings.port)
    env["GATEWAY_WORKERS"] = str(settings.workers)
    os.environ.update(env)
    effective = Settings.from_env()  # fail here, before forking workers, on any bad value
    # The supervisor's own lines (workers started, died, replaced) in the gateway's format.
    configure_logging(fmt=effective.log_format, level=effective.log_level)
    url = browser_url(effective.host, effective.port)
    banner = DEMO_BANNER.format(url=url) if demo else ""
    if demo and load_assets(effective.assets_dir or default_assets_dir()) is None:
        banner += MISSING_ASSETS
    watch = ReadyWatch(url, progress, banner=banner, enabled=effective.port != 0)
    with watch:
        uvicorn.run(
            "gateway.app:app_from_env",
            factory=True,
            host=effective.host,
            port=effective.port,
            workers=effective.workers,
            loop="uvloop",
            # httptools, with header and body limits, closing fresh connections gently
            http=DrainingHttpProtocol,
            lifespan="on",
            log_config=None,
            access_log=False,
            server_header=False,  # the `server` header would name the stack
            proxy_headers=False,  # the app believes proxies itself (GATEWAY_TRUSTED_PROXIES)
            timeout_graceful_shutdown=effective.shutdown_grace,
        )
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


def _create_api_key(workspaces: str, name: str) -> int:
    from gateway.auth.api_keys import create_api_key

    ids = [w.strip() for w in workspaces.split(",") if w.strip()]
    if not ids:
        print("gateway: --workspaces needs at least one workspace id", file=sys.stderr)
        return 2
    key, line = create_api_key(ids, name)
    print(f"API key (shown once; give it to the agent):\n  {key}\n", file=sys.stderr)
    print(
        "Add this line to GATEWAY_API_KEYS_FILE (the gateway stores only the hash):",
        file=sys.stderr,
    )
    print(line)
    return 0


def _fetch_assets(args: argparse.Namespace) -> int:
    """Needs no other setting than GATEWAY_ASSETS_DIR: it runs at install and image build."""
    from gateway.transport.assets import AssetsError, default_assets_dir, fetch_assets

    chosen: str | None = args.dir or os.environ.get("GATEWAY_ASSETS_DIR")
    directory = Path(chosen) if chosen else default_assets_dir()
    try:
        fetch_assets(
            directory,
            registry=args.registry,
            source=Path(args.source) if args.source else None,
            force=args.force,
            report=lambda line: print(f"  {line}", file=sys.stderr),
        )
    except AssetsError as exc:
        print(f"gateway: fetch-assets failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _config(args: argparse.Namespace) -> int:
    from gateway.settings import report as config_report

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
    from gateway.api.schema import build_schema
    from gateway.engine import manifest
    from gateway.engine.documents import DocumentCache

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
    p = sub.add_parser("create-api-key", help="make an API key and print its hash line")
    p.add_argument("--workspaces", required=True, help="comma-separated workspace ids")
    p.add_argument("--name", default="", help="a label kept as a comment on the line")
    p = sub.add_parser(
        "fetch-assets",
        help="download GraphiQL's files from the npm registry (pinned, verified)",
        description="Download the pinned npm tarballs of GraphiQL, React and the explorer "
        "plugin, check each against its pinned sha512, and extract the files the gateway "
        "serves. Does nothing when they are already installed.",
    )
    p.add_argument("--dir", help="where to put them (GATEWAY_ASSETS_DIR; default: in the package)")
    p.add_argument(
        "--registry",
        default=os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY,
        help="npm registry or mirror (NPM_CONFIG_REGISTRY; default: %(default)s)",
    )
    p.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="use tarballs from DIR (made with `npm pack NAME@VERSION`) instead of downloading",
    )
    p.add_argument("--force", action="store_true", help="fetch again even if installed")
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
        if args.command == "create-api-key":
            return _create_api_key(args.workspaces, args.name)
        if args.command == "fetch-assets":
            return _fetch_assets(args)
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
            configured = load_environment()  # the real environment over the .env file
            for name, value in DEMO_DEFAULTS.items():
                if name not in configured:
                    os.environ[name] = value
        settings = Settings.from_env(**overrides)
        return _serve(settings, demo=args.command == "demo")
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
