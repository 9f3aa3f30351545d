"""The Strawberry schema, and its SDL export (``schema.graphql``)."""

from __future__ import annotations

import datetime
import functools
from typing import Final

import strawberry
from graphql import GraphQLObjectType
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from gateway.api.mutation import Mutation
from gateway.api.query import Query
from gateway.api.subscription import Subscription

DATE_TIME_SPEC: Final = "https://scalars.graphql.org/andimarek/date-time"

DateTime: Final = ScalarDefinition(
    name="DateTime",
    description="A date and time with its UTC offset, as RFC 3339 text "
    "(`2026-11-25T07:28:22.716032+00:00`).",
    specified_by_url=DATE_TIME_SPEC,
    serialize=DateTimeDefinition.serialize,
    parse_value=DateTimeDefinition.parse_value,
    parse_literal=DateTimeDefinition.parse_literal,
    origin=datetime.datetime,
)
"""Strawberry's DateTime (same serializer: the fast path recognises it), with ``@specifiedBy``
so that code generators can map it."""


@functools.cache
def build_schema() -> strawberry.Schema:
    """The gateway's schema; built once per process on first use."""
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides={datetime.datetime: DateTime},
    )
    _serve_rows(schema)
    return schema


def _serve_rows(schema: strawberry.Schema) -> None:
    """Drop the ``is_type_of`` Strawberry gives the types that implement an interface.

    Strawberry checks with it that a value is an instance of the type's class; the gateway
    serves events and scratchpad entries as the surface's rows (no copy), and the compiled plans
    and the fast path serve only types without the check. Values only ever reach the interface
    (``node``) as instances of their Strawberry class, which its type resolution reads.
    """
    for named in schema._schema.type_map.values():
        if isinstance(named, GraphQLObjectType) and named.interfaces:
            named.is_type_of = None


def export_sdl() -> str:
    """The SDL of the schema, as committed in ``schema.graphql``."""
    return build_schema().as_str() + "\n"
