"""Canonical records, dataset adapters, the workspace store, releases and the bundled sample."""
