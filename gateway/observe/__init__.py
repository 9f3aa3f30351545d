"""Telemetry: the request log line, Prometheus metrics and OpenTelemetry tracing (imported by
every layer, importing none of them)."""
