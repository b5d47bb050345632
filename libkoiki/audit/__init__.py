"""Persisted security and administration events."""
