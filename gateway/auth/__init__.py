"""Credentials → ``Principal``: JWTs (``tokens``), API keys (``api_keys``), or none."""
