"""Documents generated from the real schema, for the differential test of the engine.

``documents(schema, pools)`` is a hypothesis strategy of (document text, variables): an operation on
the query root whose selections are drawn from the schema's own types and fields, with aliases,
a field under two aliases, inline and named fragments, ``@include``/``@skip`` on literals and on
variables (defaulted ones sent as ``null`` too), ``__typename``, lists, variables with and without
defaults (sent, omitted or null), and argument values from ``pools`` (out-of-range limits, unknown,
foreign and fresh workspace ids, cursors). Documents that do not validate are possible; the test
keeps only those that do, as a gateway would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from hypothesis import strategies as st

MAX_DEPTH = 4


@dataclass
class Pools:
    """Argument values to draw from: by ``Type.field.argument``, else by scalar name."""

    by_argument: Mapping[str, Sequence[Any]]
    by_scalar: Mapping[str, Sequence[Any]]


@dataclass
class _Doc:
    """What a document being drawn has collected: its variables and fragments."""

    plain: bool = False
    """Draw the simple shapes compiled plans take: no fragment, directive or repeated key."""
    variables: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    fragments: list[str] = field(default_factory=list)

    def variable(self, declared: str, value: Any, *, send: str) -> str:
        name = f"v{len(self.variables)}"
        self.variables.append(f"${name}: {declared}")
        if send == "value":
            self.values[name] = value
        elif send == "null":
            self.values[name] = None
        return f"${name}"


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value))


def _type_text(type_: GraphQLInputType) -> str:
    return str(type_)


@st.composite
def _argument(
    draw: st.DrawFn, pools: Pools, doc: _Doc, owner: str, name: str, arg: GraphQLArgument
) -> str | None:
    """``name: value`` for one argument, or None to leave it out."""
    required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
    key = f"{owner}.{name}"
    choices = pools.by_argument.get(key)
    if choices is None:
        named = get_named_type(arg.type)
        choices = pools.by_scalar.get(named.name, [None])
    if not required and draw(st.integers(0, 3)) == 0:
        return None
    value = draw(st.sampled_from(list(choices)))
    how = draw(st.sampled_from(["literal", "literal", "variable", "defaulted"]))
    if how == "literal":
        return f"{name}: {_literal(value)}"
    if how == "variable":
        send = draw(st.sampled_from(["value", "value", "value", "omit", "null"]))
        return f"{name}: {doc.variable(_type_text(arg.type), value, send=send)}"
    # A nullable variable with a default, used where the argument may be non-null.
    nullable = get_nullable_type(arg.type)
    default = draw(st.sampled_from(list(choices)))
    send = draw(st.sampled_from(["value", "omit", "null"]))
    declared = f"{_type_text(nullable)} = {_literal(default)}"
    return f"{name}: {doc.variable(declared, value, send=send)}"


@st.composite
def _directives(draw: st.DrawFn, doc: _Doc) -> str:
    if doc.plain:
        return ""
    kind = draw(st.sampled_from(["", "", "", "", "include", "skip"]))
    if not kind:
        return ""
    how = draw(st.sampled_from(["literal", "variable", "defaulted"]))
    value = draw(st.booleans())
    if how == "literal":
        condition = _literal(value)
    elif how == "variable":
        condition = doc.variable("Boolean!", value, send="value")
    else:
        default = draw(st.booleans())
        send = draw(st.sampled_from(["value", "omit", "null"]))
        condition = doc.variable(f"Boolean = {_literal(default)}", value, send=send)
    return f" @{kind}(if: {condition})"


@st.composite
def _field(
    draw: st.DrawFn,
    schema: GraphQLSchema,
    pools: Pools,
    doc: _Doc,
    parent: GraphQLObjectType,
    name: str,
    definition: GraphQLField,
    depth: int,
) -> str:
    arguments = []
    for arg_name, arg in definition.args.items():
        text = draw(_argument(pools, doc, parent.name, arg_name, arg))
        if text is not None:
            arguments.append(text)
    body = name + (f"({', '.join(arguments)})" if arguments else "")
    body += draw(_directives(doc))
    named = get_named_type(definition.type)
    if isinstance(named, GraphQLObjectType):
        body += f" {{ {draw(_selection(schema, pools, doc, named, depth + 1))} }}"
    elif not is_leaf_type(named):  # an interface or a union: fragments on its possible types
        assert isinstance(named, GraphQLInterfaceType | GraphQLUnionType)
        body += f" {{ {draw(_abstract(schema, pools, doc, named, depth + 1))} }}"
    return body


@st.composite
def _abstract(
    draw: st.DrawFn,
    schema: GraphQLSchema,
    pools: Pools,
    doc: _Doc,
    parent: GraphQLInterfaceType | GraphQLUnionType,
    depth: int,
) -> str:
    """``__typename``, the interface's own fields, and fragments on some possible types."""
    parts = ["__typename"]
    if isinstance(parent, GraphQLInterfaceType) and draw(st.booleans()):
        parts += sorted(n for n, f in parent.fields.items() if is_leaf_type(get_named_type(f.type)))
    possible = sorted(schema.get_possible_types(parent), key=lambda t: t.name)
    for target in draw(st.lists(st.sampled_from(possible), max_size=2, unique=True)):
        parts.append(
            f"... on {target.name} {{ {draw(_selection(schema, pools, doc, target, depth))} }}"
        )
    return " ".join(parts)


@st.composite
def _selection(
    draw: st.DrawFn,
    schema: GraphQLSchema,
    pools: Pools,
    doc: _Doc,
    parent: GraphQLObjectType,
    depth: int,
) -> str:
    names = sorted(parent.fields)
    if draw(st.integers(0, 7)) == 0:
        return "__typename" + draw(_directives(doc))
    if depth >= MAX_DEPTH:  # leaves only
        names = [n for n in names if is_leaf_type(get_named_type(parent.fields[n].type))]
    picked = (
        draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True)) if names else []
    )
    parts = []
    for name in picked:
        body = draw(_field(schema, pools, doc, parent, name, parent.fields[name], depth))
        alias = draw(st.sampled_from(["", "", "", "a_", "b_"]))
        parts.append(f"{alias}{name}: {body}" if alias else body)
        again = 9 if doc.plain else draw(st.integers(0, 7))
        if again == 0:  # the same field under a second key, same arguments and selection
            parts.append(f"again_{name}: {body}")
        elif again == 1:  # ... and drawn anew
            fresh = draw(_field(schema, pools, doc, parent, name, parent.fields[name], depth))
            parts.append(f"other_{name}: {fresh}")
    if draw(st.integers(0, 3)) == 0:
        parts.append("__typename" + draw(_directives(doc)))
    wrap = "" if doc.plain else draw(st.sampled_from(["", "", "", "inline", "typed", "named"]))
    if parts and wrap:
        cut = draw(st.integers(0, len(parts) - 1))
        inner = " ".join(parts[cut:])
        if wrap == "inline":
            fragment = f"...{draw(_directives(doc))} {{ {inner} }}"
        elif wrap == "typed":
            fragment = f"... on {parent.name} {{ {inner} }}"
        else:
            fname = f"F{len(doc.fragments)}"
            doc.fragments.append(f"fragment {fname} on {parent.name} {{ {inner} }}")
            fragment = f"...{fname}{draw(_directives(doc))}"
        parts = [*parts[:cut], fragment]
    if not parts:
        parts = ["__typename"]
    return " ".join(parts)


@st.composite
def documents(draw: st.DrawFn, schema: GraphQLSchema, pools: Pools) -> tuple[str, dict[str, Any]]:
    """(document text, variables) of one query operation."""
    doc = _Doc(plain=draw(st.integers(0, 2)) == 0)
    assert schema.query_type is not None
    root = draw(_selection(schema, pools, doc, schema.query_type, 0))
    head = "query"
    if doc.variables:
        head += f"({', '.join(doc.variables)})"
    text = " ".join([f"{head} {{ {root} }}", *doc.fragments])
    return text, doc.values
