"""schema.graphql is the code's schema, and every part of it is described."""

from __future__ import annotations

import subprocess
import sys

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
)

from gateway.api.schema import build_schema, export_sdl
from tests.support import REPO

BUILTIN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def test_committed_sdl_equals_the_code() -> None:
    committed = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert committed == export_sdl(), "run `gateway export-schema -o schema.graphql`"


def test_export_schema_command_checks_the_file() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "export-schema", "--check", "-o", "schema.graphql"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def test_every_type_field_and_argument_is_described() -> None:
    missing: list[str] = []
    schema = build_schema()._schema
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in BUILTIN_SCALARS:
            continue
        if not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(type_, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, val in type_.values.items() if not val.description]
        if isinstance(type_, GraphQLUnionType) and not type_.description:
            missing.append(name)
    assert missing == []
