"""Test support shared by every HTTP test: one GraphQL client over any transport, free ports,
and a real `gateway serve` process on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.dev.cluster.processes import free_port

REPO = Path(__file__).resolve().parent.parent
DEMO_WS = "org_2fXkKoraDemo01"
ATLAS_WS = "org_2fXkAtlasLabs02"
BOREAL_WS = "org_2fXkBoreal03"
FRESH_WS = "org_2fXkFreshStart04"
METRICS_TOKEN = "metrics-scraper-token-for-the-tests-7c1d9e"
"""The tests' GATEWAY_METRICS_TOKEN (set by ``make_settings``); ``SCRAPER`` sends it."""
SCRAPER = {"authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


class GqlClient:
    """``await client.gql(query, variables, token=...)`` for every HTTP test."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def gql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        operation_name: str | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str = "application/graphql-response+json",
    ) -> Answer:
        sent = {"accept": accept, **(headers or {})}
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if operation_name is not None:
            payload["operationName"] = operation_name
        response = await self.http.post("/graphql", json=payload, headers=sent)
        return Answer(response.status_code, response.json(), response.headers)


@contextlib.contextmanager
def pg_data_dir(name: str) -> Iterator[Path]:
    """A data directory for an embedded PostgreSQL, outside pytest's temporary root, removed after.

    Run as root, PostgreSQL runs as the ``pgserver`` user and must traverse every parent of its
    data directory; pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 whenever any pytest
    session starts, which would lock a running PostgreSQL out of a restart (or an initdb)."""
    base = Path(tempfile.mkdtemp(prefix=f"kora-{name}-"))
    try:
        yield base / "pg"
    finally:
        shutil.rmtree(base, ignore_errors=True)


class ServerProcess:
    """A real `gateway serve` (or `gateway demo`) on loopback, with the given environment."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        log_path: Path,
        args: tuple[str, ...] = (),
        command: str = "serve",
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        # Stopped at once unless a test drains on purpose (tests/test_shutdown.py).
        full_env["GATEWAY_DRAIN_SECONDS"] = "0"
        full_env.update(env)
        full_env.update({"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(self.port)})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", command, *args],
            env=full_env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                out = self.log_path.read_text(errors="replace")
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{out}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gateway did not become ready in time")

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@contextlib.contextmanager
def running_server(env: Mapping[str, str], log_dir: Path) -> Iterator[ServerProcess]:
    """A ready `gateway serve` with ``env``, its log in ``log_dir``, stopped at the end."""
    server = ServerProcess(env, log_path=log_dir / "gateway.log")
    server.wait_ready()
    try:
        yield server
    finally:
        server.stop()


TYPENAME_BODY = b'{"query": "{ __typename }"}'


async def asgi_call(
    app: Any,
    *,
    method: str = "POST",
    chunks: tuple[bytes, ...] = (TYPENAME_BODY,),
    headers: tuple[tuple[bytes, bytes], ...] = (
        (b"content-type", b"application/json"),
        (b"accept", b"application/graphql-response+json"),
    ),
    query_string: bytes = b"",
    root_path: str = "",
) -> list[dict[str, Any]]:
    """The ASGI messages ``app`` sends for one HTTP request to ``/graphql``, its body sent in
    ``chunks``: the app called directly, no client, no network."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": root_path + "/graphql",
        "raw_path": (root_path + "/graphql").encode(),
        "query_string": query_string,
        "root_path": root_path,
        "headers": [(b"host", b"gateway.test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def executed(
    document: Any, context: Any, variables: dict[str, Any], *, executor_class: Any = None
) -> Any:
    """graphql-core's ``execute`` of ``document`` on the gateway's schema, awaited: with its
    default execution context, or ``executor_class`` (the fast path's ``FastExecutor``)."""
    from graphql import ExecutionResult, execute

    from gateway.api.schema import build_schema

    result = execute(
        build_schema()._schema,
        document,
        context_value=context,
        variable_values=variables,
        executor_class=executor_class,
    )
    if not isinstance(result, ExecutionResult):
        result = await result
    assert isinstance(result, ExecutionResult)
    return result
