"""Shared fixtures: one embedded PostgreSQL per test session, provisioned with the demo data."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.app import create_app
from gateway.dev.embedded import EmbeddedPostgres, start_embedded
from gateway.dev.substrate.provision import READER_ROLE, WRITER_ROLE, provision
from gateway.settings import Settings
from tests.chain_support import WorkspaceMaker
from tests.support import METRICS_TOKEN, GqlClient, ServerProcess, pg_data_dir

READER_PASSWORD = "reader-test-password"
WRITER_PASSWORD = "writer-test-password"


@contextlib.asynccontextmanager
async def provisioned_pg(name: str) -> AsyncIterator[EmbeddedPostgres]:
    """A running PostgreSQL with the substrate, both roles and the demo data (notify trigger on),
    its data in a directory of its own, stopped and removed at the end."""
    with pg_data_dir(name) as datadir:
        pg = start_embedded(datadir)
        try:
            await provision(
                pg.admin_dsn,
                reader_password=READER_PASSWORD,
                writer_password=WRITER_PASSWORD,
                demo=True,
            )
            yield pg
        finally:
            pg.close()


@pytest.fixture(scope="session")
async def embedded_pg() -> AsyncIterator[EmbeddedPostgres]:
    """The session's PostgreSQL, shared by every test that does not break it on purpose."""
    async with provisioned_pg("substrate") as pg:
        yield pg


@pytest.fixture(scope="session")
def passwords() -> dict[str, str]:
    """The test passwords of the gateway's roles, by role name."""
    return {READER_ROLE: READER_PASSWORD, WRITER_ROLE: WRITER_PASSWORD}


@pytest.fixture(scope="session")
def admin_dsn(embedded_pg: EmbeddedPostgres) -> str:
    return embedded_pg.admin_dsn


@pytest.fixture(scope="session")
def reader_dsn(embedded_pg: EmbeddedPostgres) -> str:
    return embedded_pg.dsn_for(READER_ROLE, READER_PASSWORD)


@pytest.fixture(scope="session")
def writer_dsn(embedded_pg: EmbeddedPostgres) -> str:
    return embedded_pg.dsn_for(WRITER_ROLE, WRITER_PASSWORD)


@pytest.fixture
async def admin_conn(admin_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the superuser that owns the substrate (bypasses row-level security)."""
    conn = await asyncpg.connect(admin_dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def reader_conn(reader_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the gateway's read-only role."""
    conn = await asyncpg.connect(reader_dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def writer_conn(writer_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the writer role (may emit chain events and write scratchpads)."""
    conn = await asyncpg.connect(writer_dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def workspaces(admin_conn: asyncpg.Connection) -> AsyncIterator[WorkspaceMaker]:
    """``await workspaces("label")`` makes a tenant this test owns; all are removed after it."""
    maker = WorkspaceMaker(admin_conn)
    yield maker
    await maker.cleanup()


# -- the gateway ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def make_settings(reader_dsn: str) -> Callable[..., Settings]:
    """Settings for an in-process gateway against the embedded substrate, with overrides."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": reader_dsn,
            "pool_max_size": 8,
            "auth_mode": "none",
            "metrics_token": METRICS_TOKEN,
        }
        values.update(overrides)
        return Settings.from_env({}, **values)

    return make


@contextlib.asynccontextmanager
async def running_app(settings: Settings, authenticator: Any = None) -> AsyncIterator[GqlClient]:
    """The ASGI app with its lifespan running, behind a GraphQL client (no network);
    ``authenticator`` replaces the HTTP endpoint's, to choose who each request is."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        if authenticator is not None:
            app.state.graphql.authenticator = authenticator
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield GqlClient(http)


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[GqlClient]:
    """An in-process gateway with default settings (auth mode none)."""
    async with running_app(make_settings()) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(
    reader_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real `gateway serve` process on loopback against the embedded substrate."""
    server = ServerProcess(
        {"DATABASE_URL": reader_dsn, "GATEWAY_AUTH_MODE": "none", "GATEWAY_LOG_FORMAT": "json"},
        log_path=tmp_path_factory.mktemp("live") / "gateway.log",
    )
    server.wait_ready()
    yield server
    server.stop()


# -- operations: a real `gateway demo` ----------------------------------------------------------


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `gateway demo` process: its own embedded PostgreSQL, demo data, GraphiQL."""
    base = tmp_path_factory.mktemp("demo")
    server = ServerProcess(
        {}, log_path=base / "demo.log", command="demo", args=("--data-dir", str(base / "data"))
    )
    server.wait_ready(timeout=60.0)
    yield server
    server.stop()


# -- reliability: a PostgreSQL of its own, for tests that stop, freeze or lock it ---------------


@pytest.fixture(scope="session")
async def fault_pg_server() -> AsyncIterator[EmbeddedPostgres]:
    """A second embedded PostgreSQL, provisioned like ``embedded_pg``: faults stay in it."""
    async with provisioned_pg("faults") as pg:
        yield pg


@pytest.fixture
def fault_pg(fault_pg_server: EmbeddedPostgres) -> Iterator[EmbeddedPostgres]:
    """The fault tests' PostgreSQL, running at the start and at the end of each test."""
    fault_pg_server.start()
    yield fault_pg_server
    fault_pg_server.start()


@pytest.fixture
def fault_reader_dsn(fault_pg: EmbeddedPostgres) -> str:
    return fault_pg.dsn_for(READER_ROLE, READER_PASSWORD)
