"""JWT authentication: a shared secret (HS256) or a JWKS (RS256/ES256), keys cached.

A token must carry ``exp``; ``nbf``, ``iss`` and ``aud`` are checked when configured, with a small
clock leeway; ``exp``, ``nbf`` and ``iat`` must be JSON numbers (NumericDate, RFC 7519), never
strings. Only the configured algorithms are accepted (never ``none``). An unknown ``kid``
refreshes the JWKS, at most once per ``MIN_REFRESH_SECONDS``, so random kids cannot make the
gateway hammer the identity provider.

Whatever a client sends as a token, the answer is ``Unauthenticated`` with reason
``invalid_token`` (HTTP 401), never another exception: the token is the caller's text, and a
malformed one (a bad header, a ``crit`` extension, a ``kid`` that is not a string, a claim of
the wrong type) is a bad credential, not a server error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import urllib.request
from collections.abc import Sequence
from typing import Any, Final

import jwt
from starlette.requests import HTTPConnection

from gateway.auth.bearer import REALM, bearer_token
from gateway.errors import Unauthenticated
from gateway.reads.principal import Principal

log = logging.getLogger("gateway.auth")

MIN_REFRESH_SECONDS: Final = 10.0
FETCH_TIMEOUT_SECONDS: Final = 5.0
NUMERIC_DATES: Final = ("exp", "nbf", "iat")


class JwksCache:
    """Signing keys by ``kid``, fetched from a JWKS URL and refreshed on an unknown kid."""

    def __init__(
        self, url: str, *, max_age: float, min_refresh: float = MIN_REFRESH_SECONDS
    ) -> None:
        self.url = url
        self.max_age = max_age
        self.min_refresh = min_refresh
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        # The URL's scheme was checked at start-up (http or https only).
        request = urllib.request.Request(self.url, headers={"accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            data = json.loads(response.read())
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in jwt.PyJWKSet.from_dict(data).keys:
            if jwk.key_id:
                keys[jwk.key_id] = jwk
        return keys

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        stale = now - self._fetched_at > self.max_age
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            now = time.monotonic()
            if now - self._fetched_at >= self.min_refresh or not self._keys:
                try:
                    self._keys = await asyncio.to_thread(self._fetch)
                    self._fetched_at = now
                except (OSError, ValueError, jwt.PyJWKSetError) as exc:
                    log.warning("jwks fetch failed", extra={"url": self.url, "error": str(exc)})
        return self._keys.get(kid)


class JwtAuth:
    challenge = REALM

    def __init__(
        self,
        *,
        secret: str | None,
        jwks: JwksCache | None,
        algorithms: Sequence[str],
        issuer: str | None,
        audience: str | None,
        leeway: float,
        workspace_claim: str,
    ) -> None:
        self._secret = secret
        self._jwks = jwks
        self._algorithms = list(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._claim = workspace_claim

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        return await self.authenticate_token(bearer_token(conn))

    async def authenticate_token(self, token: str | None) -> Principal:
        if token is None:
            raise Unauthenticated("A bearer token is required: `Authorization: Bearer <JWT>`.")
        try:
            claims = await self._verify(token)
            return Principal(
                subject=str(claims.get("sub", "")),
                workspaces=self._workspaces(claims),
                expires_at=float(claims["exp"]) + self._leeway,
            )
        except Unauthenticated:
            raise
        except Exception:
            # PyJWT raises more than its own errors on some malformed input (a header or claim
            # of an unexpected type): still the caller's bad token, never a server error.
            raise _invalid("The token is not a valid JWT.") from None

    async def _verify(self, token: str) -> dict[str, Any]:
        """The token's claims, signature and registered claims checked."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise _invalid("The token is not a JWT.") from None
        except jwt.PyJWTError:  # e.g. a `crit` extension, a `kid` that is not a string
            raise _invalid("The token's header is not accepted.") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            shown = repr(algorithm) if isinstance(algorithm, str) and len(algorithm) <= 16 else ""
            raise _invalid(f"The token's algorithm {shown or 'header'} is not accepted.")
        key: Any = self._secret
        if self._jwks is not None:
            kid = header.get("kid")
            jwk = await self._jwks.key(kid) if isinstance(kid, str) else None
            if jwk is None:
                raise _invalid("The token's signing key is unknown.")
            key = jwk.key
        try:
            claims: Any = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["exp"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("The token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise _invalid("The token is not valid yet.") from None
        except jwt.InvalidIssuerError:
            raise _invalid("The token's issuer is not accepted.") from None
        except jwt.InvalidAudienceError:
            raise _invalid("The token's audience is not accepted.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid(f"The token lacks the `{exc.claim}` claim.") from None
        except jwt.InvalidSignatureError:
            raise _invalid("The token's signature is not valid.") from None
        except jwt.InvalidTokenError:
            raise _invalid("The token is not a valid JWT.") from None
        if not isinstance(claims, dict):
            raise _invalid("The token's claims are not a JSON object.")
        for name in NUMERIC_DATES:
            value = claims.get(name)
            if name in claims and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise _invalid(f"The token's `{name}` claim is not a number (NumericDate).")
        return claims

    def _workspaces(self, claims: dict[str, Any]) -> frozenset[str]:
        value = claims.get(self._claim)
        if isinstance(value, str):
            return frozenset([value])
        if isinstance(value, list):
            return frozenset(v for v in value if isinstance(v, str))
        return frozenset()


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, reason="invalid_token")
