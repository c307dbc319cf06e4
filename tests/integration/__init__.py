"""Integration tests: real components together (the client against the simulator over HTTP)."""
