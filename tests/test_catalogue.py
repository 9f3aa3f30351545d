"""The error catalogue: equal, in both directions, to the codes the gateway's code can raise; in
the schema (``ErrorCode``, ``Query.errorCatalogue``) and in the README, with the same facts."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import gateway
from gateway.api.error_codes import ErrorCode
from gateway.catalogue import CATALOGUE, Code, extensions
from gateway.errors import GatewayError
from tests.support import REPO, GqlClient

SOURCES = REPO / "gateway"
DEFINING = {SOURCES / "catalogue.py", SOURCES / "api" / "error_codes.py"}
"""The modules that list every code by definition: they do not count as raising one."""


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SOURCES.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _subclasses(cls: type[GatewayError]) -> Iterator[type[GatewayError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _is_extensions_call(node: ast.AST) -> bool:
    """``extensions(...)``, ``extensions_with(...)`` or ``<error>.to_extensions()``."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name in {"extensions", "extensions_with", "to_extensions"}


def test_every_gateway_error_class_has_a_catalogued_code() -> None:
    for info in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    classes = [GatewayError, *_subclasses(GatewayError)]
    assert len(classes) >= 12
    for cls in classes:
        assert isinstance(cls.code, Code), cls
        assert cls.retry_after == CATALOGUE[cls.code].retry_after, cls


def test_errors_are_shaped_only_by_the_catalogue() -> None:
    """No error leaves with hand-made extensions (which could lack ``retryable`` or carry a
    code the catalogue does not know): every ``extensions`` is built by the catalogue."""
    found: list[str] = []
    for path, tree in _modules():
        if path in DEFINING:
            continue
        where = path.relative_to(REPO)
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if not isinstance(key, ast.Constant):
                        continue
                    if key.value == "extensions" and not _is_extensions_call(value):
                        found.append(f"{where}:{node.lineno} extensions not from the catalogue")
                    if key.value == "code" and isinstance(value, ast.Constant):
                        found.append(f"{where}:{node.lineno} code spelled {value.value!r}")
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id == "GraphQLError":
                    given = {k.arg: k.value for k in node.keywords}
                    if not _is_extensions_call(given.get("extensions", ast.Constant(None))):
                        found.append(f"{where}:{node.lineno} GraphQLError without extensions()")
                spelled = node.args and isinstance(node.args[0], ast.Constant)
                if _is_extensions_call(node) and spelled:
                    found.append(f"{where}:{node.lineno} code spelled as a string")
    assert found == []


def test_every_catalogued_code_is_raised_somewhere() -> None:
    """The other direction: the catalogue lists no code the gateway never answers."""
    used: set[str] = set()
    for path, tree in _modules():
        if path in DEFINING:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Code"
            ):
                used.add(node.attr)
    assert used == {code.name for code in Code}


def test_extensions_carry_retryable_and_retry_after_last() -> None:
    assert extensions(Code.BAD_USER_INPUT, argument="limit") == {
        "code": "BAD_USER_INPUT",
        "argument": "limit",
        "retryable": False,
    }
    assert extensions(Code.OVERLOADED) == {
        "code": "OVERLOADED",
        "retryable": True,
        "retryAfterSeconds": 1,
    }
    assert extensions(Code.TIMEOUT) == {"code": "TIMEOUT", "retryable": True}


def test_the_schema_enum_is_the_catalogue() -> None:
    assert [member.name for member in ErrorCode] == [code.name for code in Code]
    sdl = (REPO / "schema.graphql").read_text(encoding="utf-8")
    block = sdl[sdl.index("enum ErrorCode {") :].split("\n}\n", 1)[0] + "\n"
    for entry in CATALOGUE.values():
        assert f'  """\n  {entry.description}\n  """\n  {entry.code}\n' in block, entry.code
        assert ("Retryable: yes" in entry.description) is entry.retryable


async def test_the_catalogue_is_queryable_without_introspection(client: GqlClient) -> None:
    answer = await client.gql(
        "{ errorCatalogue { code retryable retryAfterSeconds meaning advice } }"
    )
    assert answer.errors == []
    rows = answer.data["errorCatalogue"]
    assert [row["code"] for row in rows] == [code.name for code in Code]
    for row in rows:
        entry = CATALOGUE[Code(row["code"])]
        assert (row["retryable"], row["retryAfterSeconds"]) == (entry.retryable, entry.retry_after)
        assert (row["meaning"], row["advice"]) == (entry.meaning, entry.advice)
    retryable = {row["code"] for row in rows if row["retryable"]}
    assert retryable == {"DATABASE_UNAVAILABLE", "OVERLOADED", "TIMEOUT"}


def test_the_readme_table_is_the_catalogue() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[
        readme.index("<!-- error-codes:start -->") : readme.index("<!-- error-codes:end -->")
    ]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (yes|no)(?:, after (\d+) s)? \|", section, re.M)
    assert [code for code, _, _ in rows] == [code.name for code in Code]
    for code, retryable, after in rows:
        entry = CATALOGUE[Code(code)]
        assert (retryable == "yes", int(after) if after else None) == (
            entry.retryable,
            entry.retry_after,
        ), code
