"""API keys: ``Authorization: Bearer kgw_<id>_<secret>``.

The gateway holds only salted SHA-256 hashes of keys (``gateway create-api-key`` makes one), each
mapped to its workspaces.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.requests import HTTPConnection

from gateway.auth.bearer import REALM, bearer_token
from gateway.errors import Unauthenticated
from gateway.reads.principal import Principal

API_KEY_PREFIX: Final = "kgw_"


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    salt: bytes
    digest: bytes
    workspaces: frozenset[str]
    name: str


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8")).digest()


def create_api_key(workspaces: list[str], name: str = "") -> tuple[str, str]:
    """A new key and the line to store for it: ``(key, "<id> sha256:<salt>:<hash> <ws,…> # name")``.

    Keys carry 256 random bits, so one salted SHA-256 is enough (a slow hash protects guessable
    passwords, not random keys) and keeps verification in microseconds.
    """
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    line = f"{key_id} sha256:{salt.hex()}:{_digest(salt, secret).hex()} {','.join(workspaces)}"
    if name:
        line += f" # {name}"
    return f"{API_KEY_PREFIX}{key_id}_{secret}", line


def parse_api_key_lines(text: str, *, source: str) -> dict[str, ApiKeyRecord]:
    """Parse stored key lines; a malformed line raises ValueError naming the source and line."""
    records: dict[str, ApiKeyRecord] = {}
    for number, raw in enumerate(text.replace(";", "\n").splitlines(), start=1):
        body, _, comment = raw.partition("#")
        fields = body.split()
        if not fields:
            continue
        parts = fields[1].split(":") if len(fields) == 3 else []
        if len(parts) != 3 or parts[0] != "sha256":
            raise ValueError(f"{source} line {number}: expected '<id> sha256:<salt>:<hash> <ws,…>'")
        _, salt_hex, digest_hex = parts
        try:
            salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        except ValueError:
            raise ValueError(f"{source} line {number}: salt and hash must be hex") from None
        if len(digest) != 32 or not salt:
            raise ValueError(f"{source} line {number}: not a sha256 hash line")
        workspaces = frozenset(w for w in fields[2].split(",") if w)
        records[fields[0]] = ApiKeyRecord(fields[0], salt, digest, workspaces, comment.strip())
    return records


class ApiKeyAuth:
    challenge = REALM

    def __init__(self, records: dict[str, ApiKeyRecord]) -> None:
        self._records = records

    @classmethod
    def from_sources(cls, *, file: Path | None, inline: str | None) -> ApiKeyAuth:
        records: dict[str, ApiKeyRecord] = {}
        if file is not None:
            records |= parse_api_key_lines(file.read_text("utf-8"), source=str(file))
        if inline:
            records |= parse_api_key_lines(inline, source="GATEWAY_API_KEYS")
        return cls(records)

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        return await self.authenticate_token(bearer_token(conn))

    async def authenticate_token(self, token: str | None) -> Principal:
        if token is None:
            raise Unauthenticated("An API key is required: `Authorization: Bearer kgw_…`.")
        key_id, secret = _split_key(token)
        record = self._records.get(key_id) if key_id else None
        # Compare against a dummy when the id is unknown, so timing does not reveal ids.
        salt = record.salt if record else b"\0" * 16
        expected = record.digest if record else b"\0" * 32
        if not hmac.compare_digest(_digest(salt, secret), expected) or record is None:
            raise Unauthenticated("The API key is not valid.", reason="invalid_token")
        return Principal(subject=f"api-key:{record.key_id}", workspaces=record.workspaces)


def _split_key(token: str) -> tuple[str, str]:
    if not token.startswith(API_KEY_PREFIX):
        return "", token
    key_id, _, secret = token[len(API_KEY_PREFIX) :].partition("_")
    return key_id, secret
