"""The gateway's settings: each declared once (``core``), read from the environment and the
``.env`` file (``dotenv``), and reported (``report``)."""

from gateway.settings.core import ConfigError, Settings, load_environment

__all__ = ["ConfigError", "Settings", "load_environment"]
