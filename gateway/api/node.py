"""The ``Node`` interface: objects with a global id, refetched by ``Query.node(id:)``.

Client caches (Relay's store, Apollo's ``InMemoryCache``, urql's graphcache) key objects by
``id``: every object with an identity of its own implements ``Node``, and the values that follow
their workspace (the session context, the capability row, a chain check) have one derived from
it. The ids are made by ``gateway.reads.node_ids``.
"""

from __future__ import annotations

from typing import Final

import strawberry

ID_DESCRIPTION: Final = (
    "The object's global id: opaque and stable, unique across every type; "
    "`node(id:)` refetches the object by it."
)


@strawberry.interface(
    description="An object with a global id, for client caches (Relay, Apollo Client, urql's "
    "graphcache) and `node(id:)`."
)
class Node:
    @strawberry.field(description=ID_DESCRIPTION)
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # every implementing type answers its own
