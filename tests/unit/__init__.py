"""Unit tests: no services, no network."""
