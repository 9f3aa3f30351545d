"""The real server process, health endpoints, and the database going away and coming back."""

from __future__ import annotations

import asyncio
import time

import httpx

from gateway.dev.embedded import EmbeddedPostgres
from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import DEMO_WS, GqlClient, ServerProcess


async def test_gateway_serve_answers_over_loopback(live_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        client = GqlClient(http)
        answer = await client.gql(
            "query($id: ID!) { workspace(id: $id) { id events(limit: 2) { eventType } } }",
            {"id": DEMO_WS},
        )
        assert answer.status == 200 and not answer.errors
        assert answer.data["workspace"]["id"] == DEMO_WS
        assert len(answer.data["workspace"]["events"]) == 2
        assert answer.headers["content-type"].startswith("application/graphql-response+json")
        assert answer.headers["x-request-id"]
        get = await http.get(
            "/graphql",
            params={"query": '{ workspace(id: "%s") { id } }' % DEMO_WS},
            headers={"accept": "application/json"},
        )
        assert get.status_code == 200 and get.json()["data"]["workspace"]["id"] == DEMO_WS
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
        assert health.status_code == 200 and ready.status_code == 200
        assert ready.json()["status"] == "ready"


async def test_database_outage_is_typed_and_recovers_by_itself(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str
) -> None:
    own_pg = fault_pg  # stopped and started by this test; the fixture leaves it running
    settings = Settings.from_env(
        {},
        database_url=fault_reader_dsn,
        connect_timeout=2.0,
        auth_mode="none",
    )
    query = '{ workspace(id: "%s") { id constitution { revisionId } } }' % DEMO_WS
    async with running_app(settings) as client:
        assert (await client.gql(query)).data["workspace"]["id"] == DEMO_WS
        own_pg.stop()
        started = time.monotonic()
        down = await client.gql(query)
        assert time.monotonic() - started < 5
        assert down.status == 503 and down.headers["retry-after"]
        assert down.codes == ["DATABASE_UNAVAILABLE"]
        assert down.errors[0]["message"] == "The database is unavailable; retry shortly."
        ready = await client.http.get("/readyz")
        assert ready.status_code == 503
        own_pg.start()
        deadline = time.monotonic() + 10
        while True:
            back = await client.gql(query)
            if not back.errors or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert back.status == 200 and back.data["workspace"]["id"] == DEMO_WS
        assert (await client.http.get("/readyz")).status_code == 200
        for _ in range(5):  # every later request succeeds: no broken connection left behind
            assert not (await client.gql(query)).errors
