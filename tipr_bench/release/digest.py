"""The workspace digest a release's manifest records: sha256 of what the release took from the
workspace (every row, and the QA settings its card cites), so that exporting that version again can
say whether the workspace still matches it.

It is the sha256 of `json.dumps({"rows": {lang: {split: rows}}, "settings": settings},
ensure_ascii=False, sort_keys=True, default=str)`, fed one language and one row at a time, so that
no language's rows, and never the whole document, need to be in memory at once.
"""

from __future__ import annotations

import hashlib
import json


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class WorkspaceDigest:
    """Add each language's rows in sorted language order, then `hexdigest(settings)`."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256(b'{"rows": {')
        self._last: str | None = None

    def add(self, lang: str, rows_by_split: dict[str, list[dict]]) -> None:
        if self._last is not None and lang <= self._last:
            raise ValueError(f"languages must come in sorted order: {lang!r} after {self._last!r}")
        update = self._sha.update
        update(((", " if self._last is not None else "") + _dumps(lang) + ": {").encode())
        for i, split in enumerate(sorted(rows_by_split)):
            update(((", " if i else "") + _dumps(split) + ": [").encode())
            for j, row in enumerate(rows_by_split[split]):
                update(((", " if j else "") + _dumps(row)).encode())
            update(b"]")
        update(b"}")
        self._last = lang

    def hexdigest(self, settings: dict) -> str:
        sha = self._sha.copy()
        sha.update(('}, "settings": ' + _dumps(settings) + "}").encode())
        return sha.hexdigest()
