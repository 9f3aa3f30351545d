"""Start-up with feedback: what `gateway demo` (and `serve` without DATABASE_URL) is doing.

Each step prints its name when it starts and, when it ends, what it found or made and how long
it took, on standard error::

    database  PostgreSQL in .data/pg (created)            2.41 s
    schema    substrate tables, RLS policies (created)    0.35 s
    roles     kora_gateway (reader), kora_writer          0.04 s
    data      4 demo workspaces (loaded)                  0.62 s
    server    http://127.0.0.1:8000 ready                 0.93 s
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

_LABEL: Final = 10
_DETAIL: Final = 46


@dataclass
class Step:
    """What a running step found or made; set ``detail`` before it ends."""

    detail: str = ""


class Progress:
    """Says what start-up is doing and how long each step took."""

    def __init__(self, enabled: bool, out: TextIO | None = None) -> None:
        self.enabled = enabled
        self.out = out or sys.stderr
        self.started = time.perf_counter()
        self._lock = threading.Lock()

    def say(self, text: str, *, end: str = "\n") -> None:
        if self.enabled:
            with self._lock:
                print(text, end=end, file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[Step]:
        """Announce ``label``, run the body, then print its detail and duration (or the failure)."""
        self.say(f"  {label:<{_LABEL}}", end="")
        started = time.perf_counter()
        step = Step()
        try:
            yield step
        except KeyboardInterrupt:
            self.say("interrupted")
            raise
        except BaseException:
            self.say("failed")
            raise
        self.say(f"{step.detail:<{_DETAIL}} {time.perf_counter() - started:6.2f} s")

    def line(self, label: str, detail: str, seconds: float | None = None) -> None:
        """A whole step line at once (for steps that end on another thread)."""
        timing = "" if seconds is None else f" {seconds:6.2f} s"
        self.say(f"  {label:<{_LABEL}}{detail:<{_DETAIL}}{timing}")

    def total(self) -> float:
        return time.perf_counter() - self.started


def start_embedded(data_dir: Path, progress: Progress, *, demo: bool) -> tuple[Any, str]:
    """Start the embedded PostgreSQL and provision the substrate; the reader's DSN."""
    from gateway.dev import embedded
    from gateway.dev.substrate import provision as substrate

    pg_dir = data_dir.resolve() / "pg"
    with progress.step("database") as step:
        created = not (pg_dir / "PG_VERSION").exists()
        pg = embedded.start_embedded(pg_dir)
        step.detail = f"PostgreSQL in {_short(pg_dir)} ({'created' if created else 'existing'})"
    reader_password = secrets.token_urlsafe(24)
    writer_password = secrets.token_urlsafe(24)
    try:
        asyncio.run(
            provision_steps(
                pg.admin_dsn, progress, demo=demo, passwords=(reader_password, writer_password)
            )
        )
    except BaseException:
        pg.close()
        raise
    return pg, pg.dsn_for(substrate.READER_ROLE, reader_password)


async def provision_steps(
    admin_dsn: str, progress: Progress, *, demo: bool, passwords: tuple[str, str]
) -> None:
    """``provision.provision``, one step at a time (idempotent, like it)."""
    import asyncpg

    from gateway.dev.substrate import demo as demo_data
    from gateway.dev.substrate import provision as substrate

    conn = await asyncpg.connect(admin_dsn)
    try:
        with progress.step("schema") as step:
            async with conn.transaction():
                await conn.execute(substrate.PROVISION_LOCK)
                exists = await substrate.substrate_exists(conn)
                if not exists:
                    await substrate.apply_schema(conn, notify=demo)
                elif demo:
                    await substrate.apply_notify(conn)
            step.detail = f"substrate tables, RLS policies ({'existing' if exists else 'created'})"
        with progress.step("roles") as step:
            reader, writer = passwords
            await substrate.ensure_role(conn, role=substrate.READER_ROLE, password=reader)
            await substrate.ensure_role(
                conn, role=substrate.WRITER_ROLE, password=writer, writer=True
            )
            step.detail = f"{substrate.READER_ROLE} (reader), {substrate.WRITER_ROLE}"
        if demo:
            with progress.step("data") as step:
                loaded = await conn.fetchval(demo_data.DEMO_LOADED, demo_data.DEMO_WORKSPACE_ID)
                await demo_data.load_demo_data(conn)
                count = len(demo_data.DEMO_WORKSPACE_IDS)
                step.detail = f"{count} demo workspaces ({'existing' if loaded else 'loaded'})"
    finally:
        await conn.close()


def _short(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def browser_url(host: str, port: int) -> str:
    """The URL a person on this machine opens for ``host:port``."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class ReadyWatch:
    """Polls ``/readyz`` on a thread while the server starts; reports the first 200."""

    def __init__(
        self, base_url: str, progress: Progress, *, banner: str = "", enabled: bool = True
    ) -> None:
        self.base_url = base_url
        self.enabled = enabled and progress.enabled
        self.progress = progress
        self.banner = banner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ready-watch", daemon=True)

    def __enter__(self) -> ReadyWatch:
        self._started = time.perf_counter()
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=1) as answer:  # noqa: S310 - our own loopback URL
                    if answer.status != 200:
                        continue
            except (urllib.error.URLError, OSError):
                continue
            seconds = time.perf_counter() - self._started
            self.progress.line("server", f"{self.base_url} ready", seconds)
            self.progress.line("total", "", self.progress.total())
            if self.banner:
                self.progress.say(self.banner)
            return
