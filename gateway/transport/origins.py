"""Which browser origins may call the gateway: CORS for HTTP, the Origin check of WebSockets.

``GATEWAY_CORS_ORIGINS`` lists them (none by default). In the demo, the usual local dev-server
origins (``http://localhost:<any port>``, ``http://127.0.0.1:<any port>``, ``[::1]``, http or
https) are allowed too, so a frontend on its own dev server works against the demo as it is;
never outside the demo.
"""

from __future__ import annotations

import re
from typing import Any, Final

from gateway.settings import Settings

DEMO_ORIGIN_PATTERN: Final = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?$"
_DEMO_ORIGIN: Final = re.compile(DEMO_ORIGIN_PATTERN)


def allowed_origin(settings: Settings, origin: str) -> bool:
    """Whether ``origin`` is one the settings allow (the gateway's own is checked apart)."""
    allowed = settings.cors_origins
    if "*" in allowed or origin in allowed:
        return True
    return settings.demo and _DEMO_ORIGIN.match(origin) is not None


def cors_options(settings: Settings) -> dict[str, Any] | None:
    """Starlette's ``CORSMiddleware`` options; None when no origin is allowed."""
    if not settings.cors_origins and not settings.demo:
        return None
    return {
        "allow_origins": list(settings.cors_origins),
        "allow_origin_regex": DEMO_ORIGIN_PATTERN if settings.demo else None,
        "allow_methods": ["GET", "POST"],
        "allow_headers": list(settings.cors_allow_headers),
        "expose_headers": ["x-request-id", "retry-after", "etag", "kora-read-after"],
        "max_age": 600,
    }
