"""The Strawberry schema, and its SDL export (``schema.graphql``)."""

from __future__ import annotations

import functools

import strawberry

from gateway.api.mutation import Mutation
from gateway.api.query import Query
from gateway.api.subscription import Subscription


@functools.cache
def build_schema() -> strawberry.Schema:
    """The gateway's schema; built once per process on first use."""
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)


def export_sdl() -> str:
    """The SDL of the schema, as committed in ``schema.graphql``."""
    return build_schema().as_str() + "\n"
