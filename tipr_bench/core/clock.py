"""The one clock every record and lock reads: UTC, to the second, ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
