"""Global object ids: what ``Node.id`` answers and ``node(id:)`` reads back.

A workspace's id is its Clerk organisation id, as it always was. Every other object's id is the
base64url (unpadded) text of ``version byte · kind byte · workspace id length (2 bytes,
big-endian) · workspace id (UTF-8) · key``, the key being the object's own identity in its
workspace: a UUID's 16 bytes (events, Constitution revisions, scratchpad entries), a policy id
(UTF-8), a charter version or a chain check's window (4 bytes), nothing (the session context and
the capability row, which follow their workspace). Ids are stable (one object, one id, forever)
and opaque: clients pass them back as received. Carrying the workspace lets ``node(id:)``
authorize before it reads, exactly as ``workspace(id:)`` does, and set the row-level-security
GUC of the read. A text that does not decode as one of these ids is a workspace id.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Final

ID_VERSION: Final = 1
_HEAD: Final = struct.Struct(">BBH")
_NUMBER: Final = struct.Struct(">I")


class NodeKind(Enum):
    """The kinds of object that have an encoded id, by the byte that tags them."""

    CHAIN_EVENT = 1
    CONSTITUTION_REVISION = 2
    SCRATCHPAD_ENTRY = 3
    POLICY = 4
    ROLE_CHARTER = 5
    SESSION_CONTEXT = 6
    CAPABILITY_ROW = 7
    CHAIN_INTEGRITY = 8


_UUID_KEYED: Final = frozenset(
    {NodeKind.CHAIN_EVENT, NodeKind.CONSTITUTION_REVISION, NodeKind.SCRATCHPAD_ENTRY}
)
_NUMBER_KEYED: Final = frozenset({NodeKind.ROLE_CHARTER, NodeKind.CHAIN_INTEGRITY})
_UNKEYED: Final = frozenset({NodeKind.SESSION_CONTEXT, NodeKind.CAPABILITY_ROW})


@dataclass(frozen=True, slots=True)
class NodeId:
    """A decoded id: its kind, its workspace and its key (UUID text, policy id or a number)."""

    kind: NodeKind
    workspace_id: str
    key: str | int | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _key_bytes(kind: NodeKind, key: str | int | None) -> bytes:
    if kind in _UUID_KEYED:
        return uuid.UUID(str(key)).bytes
    if kind in _NUMBER_KEYED:
        assert isinstance(key, int)
        return _NUMBER.pack(key)
    if kind in _UNKEYED:
        return b""
    return str(key).encode("utf-8")


def encode_node_id(kind: NodeKind, workspace_id: str, key: str | int | None = None) -> str:
    """The opaque id of one object of ``kind`` in ``workspace_id``."""
    workspace = workspace_id.encode("utf-8")
    head = _HEAD.pack(ID_VERSION, kind.value, len(workspace))
    return _b64(head + workspace + _key_bytes(kind, key))


def _decode_key(kind: NodeKind, raw: bytes) -> str | int | None:
    if kind in _UUID_KEYED:
        if len(raw) != 16:
            raise ValueError("not a UUID")
        return str(uuid.UUID(bytes=raw))
    if kind in _NUMBER_KEYED:
        if len(raw) != _NUMBER.size:
            raise ValueError("not a number")
        number: int = _NUMBER.unpack(raw)[0]
        return number
    if kind in _UNKEYED:
        if raw:
            raise ValueError("a key where none belongs")
        return None
    if not raw:
        raise ValueError("an empty key")
    return _text(raw)


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    if "\x00" in text:  # PostgreSQL text holds no NUL: no object has such an id
        raise ValueError("a NUL")
    return text


def decode_node_id(text: str) -> NodeId | None:
    """The object an encoded id names; None when ``text`` is not one (then it is a workspace
    id). Only the canonical text of an id decodes: no padding, no stray bits."""
    if not text.isascii() or len(text) < 6:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _HEAD.size or _b64(raw) != text:
        return None
    version, tag, length = _HEAD.unpack_from(raw)
    if version != ID_VERSION or length == 0 or len(raw) < _HEAD.size + length:
        return None
    try:
        kind = NodeKind(tag)
        workspace = _text(raw[_HEAD.size : _HEAD.size + length])
        key = _decode_key(kind, raw[_HEAD.size + length :])
    except ValueError:  # an unknown kind, bad UTF-8, a key of the wrong shape
        return None
    return NodeId(kind, workspace, key)
