"""A substrate MCP server for the tests, built on the official ``mcp`` SDK (streamable HTTP),
serving the tools of ``tests.writes.mcp_tools``.

    python -m tests.writes.mcp_server --port P --admin-dsn A --writer-dsn W \\
        [--tools emit,scratchpad,capability] [--keyless emit,scratchpad] [--token T]

``/control`` (GET or POST JSON) switches tools and faults while it runs: ``{"tools": [...],
"shapes": {"emit": "keyless", ...}, "fault": {"mode": ..., "seconds": s, "times": n},
"overrides": {...}}``. Shapes: ``keyed`` (the default), ``keyless``, ``renamed``. Fault modes:
``slow`` (sleep first), ``error_before_commit`` (fail inside the transaction),
``hang_after_commit`` (commit, then sleep before answering), ``crash_after_commit`` (commit, then
exit the process), ``bad_answer``. GET answers the state, the number of calls per tool and the
argument names of every call, as sent on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.writes.mcp_tools import FUNCTIONS, SETUP, STATE, TOOL_NAMES


def set_tools(server: MCPServer, names: list[str], shapes: dict[str, str] | None = None) -> None:
    """List exactly the tools ``names``, each in its shape (``shapes`` by tool; keyed else)."""
    for name, variants in FUNCTIONS.items():
        shape = (shapes or {}).get(name, "keyed")
        listed = name in {t.name for t in server._tool_manager.list_tools()}
        if listed and (name not in names or STATE.shapes.get(name) != shape):
            server.remove_tool(name)
            listed = False
        if name in names and not listed:
            server.add_tool(variants[shape], name=name)
            STATE.shapes[name] = shape


class RecordArguments:
    """Records the argument names of every ``tools/call`` as they arrive on the wire, before
    the tool's own validation (which would drop an argument the tool does not declare)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/mcp":
            await self.app(scope, receive, send)
            return
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in messages)
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            rpc = json.loads(body)
            if rpc.get("method") == "tools/call":
                params = rpc["params"]
                names = sorted(params.get("arguments") or {})
                STATE.arguments.setdefault(params["name"], []).append(names)

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def build(admin_dsn: str, writer_dsn: str, tools: list[str], shapes: dict[str, str]) -> MCPServer:
    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        yield

    server = MCPServer("kora-substrate-test", lifespan=lifespan)
    # A placeholder tool, as the substrate has today, so "no write tools" is not "no tools".
    server.add_tool(_propose_convention, name="kora__propose_convention")
    set_tools(server, tools, shapes)

    @server.custom_route("/control", methods=["GET", "POST"])
    async def control(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            if "tools" in body or "shapes" in body:
                listed = [t.name for t in server._tool_manager.list_tools()]
                names = [TOOL_NAMES.get(t, t) for t in body["tools"]] if "tools" in body else listed
                if "shapes" in body:
                    shapes.clear()
                    shapes.update({TOOL_NAMES.get(k, k): v for k, v in body["shapes"].items()})
                set_tools(server, names, shapes)
            if "fault" in body:
                STATE.fault = dict(body["fault"] or {})
            if "overrides" in body:
                STATE.overrides = dict(body["overrides"] or {})
            if body.get("reset_calls"):
                STATE.calls = {}
                STATE.arguments = {}
        listed = sorted(t.name for t in server._tool_manager.list_tools())
        state = {"tools": listed, "fault": STATE.fault, "calls": STATE.calls}
        return JSONResponse({**state, "arguments": STATE.arguments, "shapes": STATE.shapes})

    return server


async def _propose_convention(workspace_id: str, text: str) -> dict[str, Any]:
    """Propose a convention (not used by the gateway)."""
    return {"proposed": True}


class RequireToken:
    """Refuses MCP requests without ``Authorization: Bearer <token>`` (``/control`` is open)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp"):
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != self.expected:
                await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def serve(args: argparse.Namespace) -> None:
    setup = await asyncpg.connect(args.admin_dsn)
    try:
        async with setup.transaction():
            await setup.execute(SETUP)
    finally:
        await setup.close()
    STATE.pool = await asyncpg.create_pool(args.writer_dsn, min_size=1, max_size=8)
    tools = [TOOL_NAMES[t] for t in args.tools.split(",") if t]
    shapes = {TOOL_NAMES[t]: "keyless" for t in args.keyless.split(",") if t}
    server = build(args.admin_dsn, args.writer_dsn, tools, shapes)
    app: ASGIApp = RecordArguments(server.streamable_http_app(host="127.0.0.1"))
    if args.token:
        app = RequireToken(app, args.token)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    await uvicorn.Server(config).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-dsn", required=True)
    parser.add_argument("--writer-dsn", required=True)
    parser.add_argument("--tools", default="emit,scratchpad,capability")
    parser.add_argument("--keyless", default="", help="write tools listed without a key")
    parser.add_argument("--token", default="")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
