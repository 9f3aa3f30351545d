"""The graphql-transport-ws endpoint: handshake, auth, messages, close codes and limits.

Each test talks to a real uvicorn on loopback with a raw WebSocket client, so every frame and
close code is the one a browser or graphql-ws client would see.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from websockets.exceptions import InvalidStatus

from gateway.reads.principal import Principal
from gateway.settings import ConfigError, Settings
from tests.chain_support import WorkspaceMaker, seed
from tests.support import ATLAS_WS, DEMO_WS, GqlClient
from tests.ws_support import InProcessServer, TokenAuth, serve_in_process, wait_until
from tests.ws_support import ws_client as connect

READER_TOKEN = "demo-only"
ALL_TOKEN = "everything"


@pytest.fixture(scope="module")
async def server(make_settings: Callable[..., Settings]) -> AsyncIterator[InProcessServer]:
    settings = make_settings(
        live_tick_ms=50,
        live_init_timeout=0.5,
        live_idle_timeout=0.8,
        live_max_per_connection=3,
        live_queue_size=5,
    )
    async with serve_in_process(settings) as running:
        yield running


@pytest.fixture
def auth(server: InProcessServer) -> TokenAuth:
    """Tokens for this test: one holds only the demo workspace."""
    tokens = TokenAuth({READER_TOKEN: frozenset({DEMO_WS})})
    server.app.state.authenticator = tokens
    return tokens


async def test_handshake_ack_and_ping(server: InProcessServer, auth: TokenAuth) -> None:
    async with connect(server.ws_url) as ws:
        assert ws.conn.subprotocol == "graphql-transport-ws"
        assert await ws.init({"authorization": f"Bearer {READER_TOKEN}"}) == {
            "type": "connection_ack"
        }
        await ws.send({"type": "ping", "payload": {"n": 1}})
        assert await ws.recv() == {"type": "pong", "payload": {"n": 1}}
    assert auth.seen == [READER_TOKEN]


@pytest.mark.parametrize(
    "payload",
    [
        {"authorization": f"Bearer {READER_TOKEN}"},
        {"Authorization": READER_TOKEN},
        {"token": READER_TOKEN},
        {"headers": {"Authorization": f"bearer {READER_TOKEN}"}},
    ],
)
async def test_token_places_clients_use(
    server: InProcessServer, auth: TokenAuth, payload: dict[str, object]
) -> None:
    async with connect(server.ws_url) as ws:
        assert (await ws.init(payload))["type"] == "connection_ack"


async def test_bad_or_missing_token_closes_4401(server: InProcessServer, auth: TokenAuth) -> None:
    for payload in ({"authorization": "Bearer nope"}, None, {"token": 12}):
        async with connect(server.ws_url) as ws:
            await ws.send({"type": "connection_init", "payload": payload})
            code, reason = await ws.closed_with()
            assert code == 4401
            assert reason.startswith("Unauthorized: ")


async def test_upgrade_header_is_used_without_a_payload_token(
    server: InProcessServer, auth: TokenAuth
) -> None:
    headers = {"Authorization": f"Bearer {READER_TOKEN}"}
    async with connect(server.ws_url, additional_headers=headers) as ws:
        assert (await ws.init())["type"] == "connection_ack"


async def test_foreign_workspace_subscription_is_refused(
    server: InProcessServer, auth: TokenAuth
) -> None:
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        await ws.subscribe("1", ws=ATLAS_WS)
        refusal = await ws.recv()
        assert (refusal["id"], refusal["type"]) == ("1", "error")
        assert [e["extensions"]["code"] for e in refusal["payload"]] == ["FORBIDDEN"]
        assert ATLAS_WS in refusal["payload"][0]["message"]
        # The connection stays usable: its own workspace subscribes fine (no message yet).
        await ws.subscribe("2", ws=DEMO_WS)
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}


@pytest.mark.parametrize(
    ("variables", "code", "argument"),
    [
        ({"ws": "org_no_such_workspace"}, "BAD_USER_INPUT", "workspaceId"),
        ({"ws": DEMO_WS, "after": "garbage"}, "BAD_USER_INPUT", "after"),
        ({"ws": DEMO_WS, "types": ["hivex.*"]}, "BAD_USER_INPUT", "types"),
    ],
)
async def test_bad_subscription_arguments_are_typed_errors(
    server: InProcessServer,
    auth: TokenAuth,
    variables: dict[str, object],
    code: str,
    argument: str,
) -> None:
    auth.tokens[ALL_TOKEN] = frozenset({DEMO_WS, "org_no_such_workspace"})
    async with connect(server.ws_url) as ws:
        await ws.init({"token": ALL_TOKEN})
        await ws.subscribe("1", **variables)
        refusal = await ws.recv()
        assert (refusal["id"], refusal["type"]) == ("1", "error")
        assert refusal["payload"][0]["extensions"] == {
            "code": code,
            "argument": argument,
            "retryable": False,
        }
        watcher = server.app.state.live.watcher
        assert await wait_until(lambda: watcher.subscriptions == 0, within=2)


async def test_query_over_the_socket_answers_next_then_complete(
    server: InProcessServer, auth: TokenAuth
) -> None:
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        await ws.subscribe("q", query=f'{{ workspace(id: "{DEMO_WS}") {{ displayName }} }}')
        answer = await ws.recv()
        assert (answer["id"], answer["type"]) == ("q", "next")
        assert answer["payload"]["data"]["workspace"]["displayName"]
        assert await ws.recv() == {"id": "q", "type": "complete"}


async def test_documents_too_complex_are_refused_over_the_socket(
    server: InProcessServer, auth: TokenAuth
) -> None:
    """The socket prepares documents with the same cache and bounds as HTTP: a response key
    repeated past the bound is refused before the expensive rules run, and the connection
    serves on."""
    repeated = " ".join(f"events(limit: {n}) {{ eventId }}" for n in range(1, 501))
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        await ws.subscribe("x", query=f'{{ workspace(id: "{DEMO_WS}") {{ {repeated} }} }}')
        refusal = await ws.recv()
        assert (refusal["id"], refusal["type"]) == ("x", "error")
        assert [e["extensions"]["code"] for e in refusal["payload"]] == ["QUERY_TOO_COMPLEX"]
        await ws.subscribe("q", query=f'{{ workspace(id: "{DEMO_WS}") {{ id }} }}')
        assert (await ws.recv())["payload"] == {"data": {"workspace": {"id": DEMO_WS}}}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", 4400),
        ({"type": "whatever"}, 4400),
        ({"id": "1", "type": "subscribe", "payload": {"query": 1}}, 4400),
        ({"id": "", "type": "subscribe", "payload": {"query": "{ __typename }"}}, 4400),
    ],
)
async def test_invalid_messages_close_4400(
    server: InProcessServer, auth: TokenAuth, message: object, code: int
) -> None:
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        if isinstance(message, str):
            await ws.conn.send(message)
        else:
            await ws.send(message)  # type: ignore[arg-type]
        assert (await ws.closed_with())[0] == code


async def test_protocol_order_violations(server: InProcessServer, auth: TokenAuth) -> None:
    async with connect(server.ws_url) as ws:
        await ws.subscribe("1", ws=DEMO_WS)
        assert await ws.closed_with() == (4401, "Unauthorized")
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        await ws.send({"type": "connection_init"})
        assert await ws.closed_with() == (4429, "Too many initialisation requests")
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        await ws.subscribe("same", ws=DEMO_WS)
        await ws.subscribe("same", ws=DEMO_WS)
        assert await ws.closed_with() == (4409, "Subscriber for same already exists")


async def test_other_subprotocol_closes_4406(server: InProcessServer) -> None:
    async with connect(server.ws_url, subprotocols=("graphql-ws",)) as ws:
        assert (await ws.closed_with())[0] == 4406


async def test_cross_site_origin_is_refused_at_the_upgrade(server: InProcessServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    own = f"http://127.0.0.1:{server.port}"
    async with connect(server.ws_url, origin=own) as ws:  # type: ignore[arg-type]
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}


async def test_no_init_in_time_closes_4408(server: InProcessServer) -> None:
    async with connect(server.ws_url) as ws:
        assert await ws.closed_with(within=5) == (4408, "Connection initialisation timeout")


async def test_idle_connection_closes_4408(server: InProcessServer, auth: TokenAuth) -> None:
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        code, reason = await ws.closed_with(within=5)
        assert (code, reason.split(":")[0]) == (4408, "Idle timeout")


async def test_a_subscription_keeps_the_connection_open(
    server: InProcessServer, auth: TokenAuth
) -> None:
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        await ws.subscribe("1", ws=DEMO_WS)
        await asyncio.sleep(1.2)  # past the idle timeout (0.8 s)
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}
        await ws.send({"id": "1", "type": "complete"})
        code, _ = await ws.closed_with(within=5)
        assert code == 4408


async def test_operations_per_connection_are_bounded(
    server: InProcessServer, auth: TokenAuth
) -> None:
    async with connect(server.ws_url) as ws:
        await ws.init({"token": READER_TOKEN})
        for n in range(3):
            await ws.subscribe(str(n), ws=DEMO_WS)
        await ws.subscribe("3", ws=DEMO_WS)
        refusal = await ws.recv()
        assert (refusal["id"], refusal["type"]) == ("3", "error")
        assert refusal["payload"][0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "limit": "GATEWAY_LIVE_MAX_PER_CONNECTION",
            "retryable": False,
        }
        await ws.send({"id": "0", "type": "complete"})
        await ws.subscribe("4", ws=DEMO_WS)  # room again
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}


async def test_slow_consumer_is_dropped_4413(
    server: InProcessServer,
    auth: TokenAuth,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
) -> None:
    own = await workspaces("slow")
    auth.tokens[ALL_TOKEN] = frozenset({own.workspace_id})
    # A client with a tiny receive window that stops reading: the gateway's sends block, its
    # queue for the subscriber (5 events) fills, and the subscriber is dropped.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    async with connect(server.ws_url, sock=sock, max_queue=1, compression=None) as ws:
        await ws.init({"token": ALL_TOKEN})
        await ws.subscribe("1", ws=own.workspace_id)
        await asyncio.sleep(0.2)
        ws.conn.transport.pause_reading()
        await seed(writer_conn, own.tenant_id, 60, ["kora.bulk." + "x" * 200_000])
        watcher = server.app.state.live.watcher
        assert await wait_until(lambda: watcher.dropped > 0, within=10)
        # Dropped at once, while the client still reads nothing: no feed is left behind.
        assert await wait_until(lambda: watcher.subscriptions == 0, within=2)
        ws.conn.transport.resume_reading()
        code, reason = await ws.closed_with(within=10)
    assert code == 4413
    assert reason.startswith("Slow consumer")


async def test_a_subscription_over_http_is_refused(client: GqlClient) -> None:
    query = "subscription S($ws: ID!) { workspaceEvents(workspaceId: $ws) { eventId } }"
    answer = await client.gql(query, {"ws": DEMO_WS})
    assert answer.status == 400
    assert answer.codes == ["BAD_REQUEST"]
    assert "WebSocket" in answer.errors[0]["message"]


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("GATEWAY_LIVE_NOTIFY_CHANNEL", "kora-events", "not a channel name"),
        ("GATEWAY_LIVE_TICK_MS", "5", "out of range"),
        ("GATEWAY_LIVE_QUEUE_SIZE", "zero", "not a whole number"),
    ],
)
def test_bad_live_settings_stop_start_up(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as refused:
        Settings.from_env(
            {"DATABASE_URL": "postgresql://x@y/z", "GATEWAY_AUTH_MODE": "none", variable: value}
        )
    assert variable in str(refused.value)


def test_live_settings_are_read_from_the_environment() -> None:
    base = {"GATEWAY_AUTH_MODE": "none"}
    settings = Settings.from_env(
        {**base, "GATEWAY_LIVE_NOTIFY_CHANNEL": "kora_events", "GATEWAY_LIVE_TICK_MS": "250"}
    )
    assert (settings.live_notify_channel, settings.live_tick_ms) == ("kora_events", 250)
    assert Settings.from_env(base).live_notify_channel is None


class BrokenAuth(TokenAuth):
    async def authenticate_token(self, token: str | None) -> Principal:
        raise RuntimeError("the identity provider's library failed")


async def test_an_unexpected_failure_closes_4500_without_details(
    server: InProcessServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.app.state.authenticator = BrokenAuth({})
    with caplog.at_level(logging.ERROR, logger="gateway.live"):
        async with connect(server.ws_url) as ws:
            await ws.send({"type": "connection_init", "payload": {"token": "x"}})
            assert await ws.closed_with() == (4500, "Internal server error")
    assert any("identity provider" in str(r.exc_info) for r in caplog.records)
