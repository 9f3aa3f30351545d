"""Object identity: the Node interface, global ids, node(id:) and nodes(ids:).

Every id comes back from ``node(id:)`` as the same object; ids are unique across types and
stable; an id in a workspace the caller does not hold answers exactly like an id in a workspace
that does not exist (FORBIDDEN), and an unknown object of a held workspace is null.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.api.node import Node
from gateway.api.schema import build_schema
from gateway.reads.node_ids import NodeId, NodeKind, decode_node_id, encode_node_id
from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import ATLAS_WS, BOREAL_WS, DEMO_WS, FRESH_WS, GqlClient
from tests.test_auth import SECRET, token
from tests.test_batching import last_request

EVERYTHING = """
query Everything($ws: ID!) {
  workspace(id: $ws) {
    id
    events(limit: 3) { id eventId eventType }
    eventHistory(first: 2) { edges { node { id eventId } } }
    constitution { id revisionId rulesHash }
    roleCharter { id version title }
    policies { id policyId name }
    ownScratchpad(limit: 2) { id entryId content }
    crossAgentScratchpad(limit: 2) { id entryId content }
    capabilityRow { id grantedCount }
    sessionContext { id workspaceId recentChainEvents { id } }
    chainIntegrity(last: 10) { id ok verified }
  }
}
"""

REFETCH = """
query Refetch($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Workspace { displayName }
    ... on ChainEvent { eventId eventType }
    ... on ConstitutionRevision { revisionId rulesHash }
    ... on RoleCharter { version title }
    ... on Policy { policyId name }
    ... on ScratchpadEntry { entryId content }
    ... on CapabilityRow { grantedCount }
    ... on SessionContext { workspaceId }
    ... on ChainIntegrity { ok verified }
  }
}
"""


def objects(data: Any) -> list[dict[str, Any]]:
    """Every object of an answer that carries an `id`."""
    found: list[dict[str, Any]] = []
    if isinstance(data, dict):
        if "id" in data:
            found.append(data)
        for value in data.values():
            found += objects(value)
    elif isinstance(data, list):
        for value in data:
            found += objects(value)
    return found


@pytest.fixture
async def jwt_client(make_settings: Callable[..., Settings]) -> AsyncIterator[GqlClient]:
    async with running_app(make_settings(auth_mode="jwt", jwt_secret=SECRET)) as client:
        yield client


def test_every_type_that_implements_node_answers_its_own_id() -> None:
    """``Node.id`` only declares the field: each implementing type of the schema must resolve
    it itself, or asking its ``id`` would fail at run time."""
    schema = build_schema()
    implementing = [
        t for t in schema._schema.type_map.values()
        if getattr(t, "interfaces", None) and any(i.name == "Node" for i in t.interfaces)
    ]  # fmt: skip
    assert len(implementing) >= 9, [t.name for t in implementing]
    declared = _id_resolver(Node)
    assert declared is not None
    for graphql_type in implementing:
        cls = graphql_type.extensions["strawberry-definition"].origin
        assert issubclass(cls, Node), graphql_type.name
        assert _id_resolver(cls) not in (None, declared), graphql_type.name


def _id_resolver(cls: type) -> object:
    """The function resolving ``cls``'s ``id`` (Strawberry copies inherited fields into each
    type, so the resolver, not the class's namespace, tells whose it is)."""
    field = next(f for f in cls.__strawberry_definition__.fields if f.python_name == "id")  # type: ignore[attr-defined]
    return None if field.base_resolver is None else field.base_resolver.wrapped_func


async def test_every_id_refetches_its_object(client: GqlClient) -> None:
    answer = await client.gql(EVERYTHING, {"ws": DEMO_WS})
    assert not answer.errors, answer.body
    found = objects(answer.data)
    kinds = Counter(type(decode_node_id(o["id"])).__name__ for o in found)
    assert kinds["NodeId"] >= 12 and kinds["NoneType"] == 1, kinds  # the workspace's own id
    for obj in found:
        again = await client.gql(REFETCH, {"id": obj["id"]})
        assert not again.errors, again.body
        node = again.data["node"]
        assert node["id"] == obj["id"]
        shared = {k: v for k, v in obj.items() if k in node and not isinstance(v, dict | list)}
        assert shared == {k: node[k] for k in shared}, (obj, node)


async def test_ids_are_unique_across_types_and_stable(client: GqlClient) -> None:
    first = await client.gql(EVERYTHING, {"ws": DEMO_WS})
    second = await client.gql(EVERYTHING, {"ws": DEMO_WS})
    ids_first = [o["id"] for o in objects(first.data)]
    assert ids_first == [o["id"] for o in objects(second.data)]
    # One object, one id: the same event in `events`, `eventHistory` and the session context.
    by_id: dict[str, set[str]] = {}
    for obj in objects(first.data):
        identity = obj.get("eventId") or obj.get("entryId") or obj.get("policyId") or "-"
        by_id.setdefault(obj["id"], set()).add(f"{sorted(obj)}{identity}")
    workspace = first.data["workspace"]
    newest = workspace["events"][0]["id"]
    assert newest == workspace["eventHistory"]["edges"][0]["node"]["id"]
    assert newest == workspace["sessionContext"]["recentChainEvents"][0]["id"]
    assert len({o["id"] for o in objects(first.data) if "eventId" in o}) == len(
        {o["eventId"] for o in objects(first.data) if "eventId" in o}
    )
    other = await client.gql(EVERYTHING, {"ws": ATLAS_WS})
    assert not set(ids_first) & {o["id"] for o in objects(other.data)}


def test_ids_round_trip_and_refuse_what_they_are_not() -> None:
    event = str(uuid.uuid4())
    cases = [
        NodeId(NodeKind.CHAIN_EVENT, DEMO_WS, event),
        NodeId(NodeKind.POLICY, "org_ünïcode", "pol_x"),
        NodeId(NodeKind.ROLE_CHARTER, DEMO_WS, 3),
        NodeId(NodeKind.SESSION_CONTEXT, DEMO_WS, None),
        NodeId(NodeKind.CHAIN_INTEGRITY, DEMO_WS, 10_000),
    ]
    for case in cases:
        text = encode_node_id(case.kind, case.workspace_id, case.key)
        assert text.isascii() and "=" not in text
        assert decode_node_id(text) == case
        assert decode_node_id(text + "A") is None  # not the canonical text of an id
    for workspace_id in (DEMO_WS, "org_2fXk", "", "AQ", "AQYAAA", "x" * 300):
        assert decode_node_id(workspace_id) is None


async def test_foreign_and_unknown_answer_alike(jwt_client: GqlClient) -> None:
    mine = token({"org_id": DEMO_WS})
    everything = await jwt_client.gql(EVERYTHING, {"ws": DEMO_WS}, token=mine)
    event_id = everything.data["workspace"]["events"][0]["eventId"]
    theirs = encode_node_id(NodeKind.CHAIN_EVENT, ATLAS_WS, event_id)
    nowhere = encode_node_id(NodeKind.CHAIN_EVENT, "org_nowhere", event_id)
    answers = [await jwt_client.gql(REFETCH, {"id": i}, token=mine) for i in (theirs, nowhere)]
    for answer in answers:
        assert answer.data == {"node": None}
        assert answer.codes == ["FORBIDDEN"]
    assert answers[0].errors[0]["message"].replace(ATLAS_WS, "W") == answers[1].errors[0][
        "message"
    ].replace("org_nowhere", "W")
    # A workspace id is refused the same way, and an unknown object of my workspace is null.
    workspace = await jwt_client.gql(REFETCH, {"id": ATLAS_WS}, token=mine)
    assert workspace.codes == ["FORBIDDEN"]
    missing = encode_node_id(NodeKind.CHAIN_EVENT, DEMO_WS, str(uuid.uuid4()))
    for unknown in (missing, encode_node_id(NodeKind.POLICY, DEMO_WS, "pol_nope")):
        answer = await jwt_client.gql(REFETCH, {"id": unknown}, token=mine)
        assert answer.body == {"data": {"node": None}}


async def test_an_event_of_another_workspace_under_my_id_is_not_found(
    jwt_client: GqlClient,
) -> None:
    # An id that names my workspace with their event: the read is keyed by both, so nothing.
    theirs = await jwt_client.gql(EVERYTHING, {"ws": ATLAS_WS}, token=token({"org_id": ATLAS_WS}))
    their_event = theirs.data["workspace"]["events"][0]["eventId"]
    their_entry = theirs.data["workspace"]["ownScratchpad"][0]["entryId"]
    mine = token({"org_id": DEMO_WS})
    for kind, key in (
        (NodeKind.CHAIN_EVENT, their_event),
        (NodeKind.SCRATCHPAD_ENTRY, their_entry),
    ):
        crafted = encode_node_id(kind, DEMO_WS, key)
        answer = await jwt_client.gql(REFETCH, {"id": crafted}, token=mine)
        assert answer.body == {"data": {"node": None}}


async def test_nodes_answers_each_entry_on_its_own(jwt_client: GqlClient) -> None:
    mine = token({"org_id": [DEMO_WS, FRESH_WS]})
    everything = await jwt_client.gql(EVERYTHING, {"ws": DEMO_WS}, token=mine)
    event = everything.data["workspace"]["events"][0]
    ids = [event["id"], ATLAS_WS, FRESH_WS, "org_unknown", DEMO_WS]
    answer = await jwt_client.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", {"ids": ids}, token=mine
    )
    nodes = answer.data["nodes"]
    assert nodes[0] == {"__typename": "ChainEvent", "id": event["id"]}
    assert nodes[1] is None and nodes[3] is None
    assert nodes[2] == {"__typename": "Workspace", "id": FRESH_WS}
    assert nodes[4] == {"__typename": "Workspace", "id": DEMO_WS}
    assert sorted(e["path"][1] for e in answer.errors) == [1, 3]
    assert answer.codes == ["FORBIDDEN", "FORBIDDEN"]


async def test_nodes_are_batched(client: GqlClient, caplog: pytest.LogCaptureFixture) -> None:
    ids: list[str] = []
    for ws in (DEMO_WS, ATLAS_WS, BOREAL_WS):
        found = (await client.gql(EVERYTHING, {"ws": ws})).data["workspace"]
        ids += [e["id"] for e in found["events"]]
        ids += [e["id"] for e in found["ownScratchpad"] + found["policies"]]
    caplog.set_level(logging.INFO, logger="gateway.request")
    answer = await client.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert not answer.errors, answer.body
    assert [n["id"] for n in answer.data["nodes"]] == ids
    counts = Counter(last_request(caplog)["sql"])
    assert counts["events.by_id"] == 1  # nine events of three workspaces: one statement
    assert counts["tenants.by_clerk_org_ids"] == 1
    assert counts["rls.set_config"] == 3  # one RLS transaction per workspace
    assert counts["scratchpad.by_id"] == 6


async def test_too_many_ids_are_refused(client: GqlClient) -> None:
    answer = await client.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [DEMO_WS] * 101}
    )
    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["max"] == 100


async def test_nodes_are_costed_like_their_fields(client: GqlClient) -> None:
    heavy = (
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Workspace { "
        "events(limit: 500) { eventId } ownScratchpad(limit: 500) { entryId } } } }"
    )
    answer = await client.gql(heavy, {"ids": [DEMO_WS] * 100})
    assert answer.codes == ["QUERY_TOO_COSTLY"]
