"""WAL positions (PostgreSQL's ``pg_lsn``) as integers, and the consistency tokens made of them.

A token is the primary's WAL position right after a write, written as PostgreSQL writes an LSN
(``16/B374D848``): a replica whose replay has reached it holds the write.
"""

from __future__ import annotations

import re
from typing import Final

_LSN: Final = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


def parse_lsn(text: str) -> int | None:
    """The position of an LSN written ``X/Y`` (hexadecimal), or None when it is not one."""
    found = _LSN.match(text.strip())
    if found is None:
        return None
    return (int(found.group(1), 16) << 32) | int(found.group(2), 16)


def format_lsn(position: int) -> str:
    """``position`` as PostgreSQL writes an LSN."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"
