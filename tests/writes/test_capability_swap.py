"""The capability row comes from the substrate's tool when it is listed, else from the mirror."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from gateway.settings import Settings
from gateway.writes.deferred import TAG
from tests.conftest import running_app
from tests.support import DEMO_WS
from tests.test_capability_mirror import SNAPSHOT
from tests.writes.support import McpServerProcess

BOTH = """
query Both($id: ID!) {
  workspace(id: $id) {
    capabilityRow { source deviationId grantedCount deniedCount granted denied }
    sessionContext { capabilityRow { source granted } }
  }
}"""


def snapshot_granted() -> list[str]:
    caps: dict[str, bool] = json.loads(SNAPSHOT.read_text())["capabilities"]
    return sorted(name for name, granted in caps.items() if granted)


async def test_listed_tool_answers_the_row_once_per_request(
    mcp_settings: Callable[..., Settings], mcp_server: McpServerProcess
) -> None:
    # An override the mirror does not have proves the answer is the tool's.
    await mcp_server.control(overrides={"cap_deploy_staging": True})
    async with running_app(mcp_settings()) as client:
        answer = await client.gql(BOTH, {"id": DEMO_WS})
    assert answer.errors == []
    row = answer.data["workspace"]["capabilityRow"]
    assert (row["source"], row["deviationId"]) == ("SUBSTRATE", None)
    assert sorted(row["granted"]) == sorted([*snapshot_granted(), "cap_deploy_staging"])
    assert (row["grantedCount"], row["deniedCount"]) == (23, 26)
    assert "cap_unbless_convention" in row["denied"]
    assert answer.data["workspace"]["sessionContext"]["capabilityRow"] == {
        "source": "SUBSTRATE",
        "granted": row["granted"],
    }
    assert (await mcp_server.control())["calls"] == {"kora__read_kora_capability_row": 1}


async def test_unlisted_tool_means_the_mirror(
    mcp_settings: Callable[..., Settings], mcp_server: McpServerProcess
) -> None:
    await mcp_server.control(tools=["emit", "scratchpad"])
    async with running_app(mcp_settings()) as client:
        answer = await client.gql(BOTH, {"id": DEMO_WS})
    row = answer.data["workspace"]["capabilityRow"]
    assert (row["source"], row["deviationId"]) == ("MIRROR", "D-kr2-st2-capability-matrix-mirror")
    assert sorted(row["granted"]) == snapshot_granted()
    assert (await mcp_server.control())["calls"] == {}


@pytest.mark.parametrize("mode", ["bad_answer", "error_before_commit"])
async def test_a_failing_tool_falls_back_to_the_mirror_and_logs_it(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.writes")
    await mcp_server.control(fault={"mode": mode, "times": 1})
    async with running_app(mcp_settings()) as client:
        failed = await client.gql(BOTH, {"id": DEMO_WS})
        recovered = await client.gql(BOTH, {"id": DEMO_WS})
    assert failed.errors == []
    assert failed.data["workspace"]["capabilityRow"]["source"] == "MIRROR"
    assert recovered.data["workspace"]["capabilityRow"]["source"] == "SUBSTRATE"
    fallbacks = [r for r in caplog.records if "answering from the mirror" in r.getMessage()]
    assert len(fallbacks) == 1
    assert fallbacks[0].getMessage().startswith(TAG)
    assert fallbacks[0].deviation_id == "D-kr2-st2-capability-matrix-mirror"
