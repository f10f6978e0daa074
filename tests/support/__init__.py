"""Helpers shared by tests: a loopback OpenAI-compatible server."""
