"""The graphql-transport-ws protocol's messages and close codes, and checks of what clients send.

close code  reason                               when
4400        Bad request / invalid message        a message that is not one of the protocol's
4401        Unauthorized                         `subscribe` before `connection_ack`
4401        Unauthorized: <why>                  `connection_init` credentials missing or invalid
                                                 (as HTTP's 401), or the token expired
4406        Subprotocol not acceptable           the client did not offer graphql-transport-ws
4408        Connection initialisation timeout    no `connection_init` in time
4408        Idle timeout                         no subscription and no message for a while
4409        Subscriber for <id> already exists   `subscribe` with an id still running
4413        Slow consumer                        a subscriber fell too many events behind
4429        Too many initialisation requests     a second `connection_init`
1009        Message too big                      a message larger than GATEWAY_MAX_BODY_BYTES
1012        Service restart                      the process drained before stopping: reconnect
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, Final

from gateway.errors import Unauthenticated
from gateway.transport.operation import GONE as GONE  # re-exported for the connection
from gateway.transport.operation import OperationRequest

SUBPROTOCOL: Final = "graphql-transport-ws"
MAX_ID_LENGTH: Final = 256
MAX_REASON_BYTES: Final = 123

SubscribePayload = OperationRequest
"""A `subscribe` message's payload: the operation's GraphQL request."""


class CloseCode(IntEnum):
    MESSAGE_TOO_BIG = 1009
    SERVICE_RESTART = 1012
    BAD_REQUEST = 4400
    UNAUTHORIZED = 4401
    SUBPROTOCOL_NOT_ACCEPTABLE = 4406
    TIMEOUT = 4408
    SUBSCRIBER_EXISTS = 4409
    SLOW_CONSUMER = 4413
    TOO_MANY_INIT = 4429
    INTERNAL = 4500


class ProtocolViolation(Exception):
    """A message the protocol does not allow; the connection closes with ``code``."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def close_reason(text: str) -> str:
    """``text`` cut to the 123 bytes a close frame's reason may hold."""
    raw = text.encode("utf-8")
    if len(raw) <= MAX_REASON_BYTES:
        return text
    return raw[: MAX_REASON_BYTES - 3].decode("utf-8", errors="ignore") + "..."


def bad(reason: str) -> ProtocolViolation:
    return ProtocolViolation(CloseCode.BAD_REQUEST, close_reason(f"Invalid message: {reason}"))


def message_type(message: Any) -> str:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise bad("expected a JSON object with a string `type`")
    kind: str = message["type"]
    return kind


def optional_object(message: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = message.get(key)
    if value is not None and not isinstance(value, dict):
        raise bad(f"`{key}` must be an object")
    return value


def operation_id(message: Mapping[str, Any]) -> str:
    ident = message.get("id")
    if not isinstance(ident, str) or not ident or len(ident) > MAX_ID_LENGTH:
        raise bad(f"`id` must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return ident


def subscribe_payload(message: Mapping[str, Any]) -> SubscribePayload:
    payload = optional_object(message, "payload")
    if payload is None or not isinstance(payload.get("query"), str):
        raise bad("`payload.query` must be a string holding a GraphQL document")
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise bad("`payload.operationName` must be a string or null")
    return SubscribePayload(
        query=payload["query"],
        variables=optional_object(payload, "variables"),
        operation_name=operation_name,
    )


_TOKEN_KEYS: Final = ("authorization", "token", "authtoken", "access_token")


def init_token(payload: Mapping[str, Any] | None) -> str | None:
    """The bearer token of a `connection_init` payload, wherever clients usually put it.

    Accepted: ``{"authorization": "Bearer <token>"}`` (any case of the key), ``{"token": ...}``,
    ``{"authToken": ...}``, ``{"access_token": ...}``, and the same inside ``"headers"``. A
    ``Bearer`` prefix is optional. None when the payload holds no token.
    """
    if not payload:
        return None
    headers = payload.get("headers")
    for source in (payload, headers if isinstance(headers, dict) else {}):
        for key, value in source.items():
            if key.lower() not in _TOKEN_KEYS:
                continue
            if not isinstance(value, str):
                raise Unauthenticated(
                    f"The connection_init payload's `{key}` must be a string.",
                    reason="invalid_token",
                )
            scheme, _, rest = value.strip().partition(" ")
            token = rest.strip() if scheme.lower() == "bearer" and rest else value.strip()
            return token or None
    return None
