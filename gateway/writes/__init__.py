"""Writes through the substrate's MCP tools: validation, once per idempotency key, deferred
results while a tool does not exist."""
