"""Telemetry through forward hooks on marker modules (never by reading mutable model attributes)."""
