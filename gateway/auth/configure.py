"""The authenticator the settings ask for (``GATEWAY_AUTH_MODE``)."""

from __future__ import annotations

import logging

from gateway.auth.api_keys import ApiKeyAuth
from gateway.auth.bearer import Authenticator, NoAuth
from gateway.auth.tokens import JwksCache, JwtAuth
from gateway.settings import ConfigError, Settings

log = logging.getLogger("gateway.auth")


def build_authenticator(settings: Settings) -> Authenticator:
    """The authenticator of ``GATEWAY_AUTH_MODE``; settings were validated already."""
    if settings.auth_mode == "none":
        log.warning(
            "AUTHENTICATION IS OFF (GATEWAY_AUTH_MODE=none): every caller may read and write "
            "every workspace. Use it for the demo only."
        )
        return NoAuth()
    if settings.auth_mode == "api-key":
        try:
            return ApiKeyAuth.from_sources(file=settings.api_keys_file, inline=settings.api_keys)
        except ValueError as exc:
            raise ConfigError(f"API keys: {exc}") from None
    jwks = None
    if settings.jwks_url:
        jwks = JwksCache(
            settings.jwks_url,
            max_age=settings.jwks_cache_seconds,
            min_refresh=settings.jwks_min_refresh_seconds,
        )
    return JwtAuth(
        secret=settings.jwt_secret,
        jwks=jwks,
        algorithms=settings.accepted_jwt_algorithms,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
        workspace_claim=settings.jwt_workspace_claim,
    )
