"""Semantic versions (semver 2.0.0): validation and precedence, so `@latest` means the newest release."""

from __future__ import annotations

import re

from tipr_bench.core.errors import UserError

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def is_semver(text: str) -> bool:
    return bool(_SEMVER.match(text))


def check_semver(text: str, what: str = "--version") -> str:
    if not is_semver(text):
        raise UserError(
            f"{what} {text!r} is not a semantic version: use MAJOR.MINOR.PATCH such as 1.0.0 (or 1.1.0-rc.1)"
        )
    return text


def precedence(text: str) -> tuple:
    """A sort key in semver precedence order: 1.0.0-rc.1 < 1.0.0 < 1.0.1 < 1.10.0. Build metadata is ignored."""
    match = _SEMVER.match(text)
    if not match:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre, _build = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, ids)
