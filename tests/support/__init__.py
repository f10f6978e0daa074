"""Helpers shared by tests: a loopback OpenAI-compatible server, sample workspaces, tiny models."""
