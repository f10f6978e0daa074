"""HUB_SOURCE.json: where a folder downloaded from the Hugging Face Hub came from.

`download hf://...` writes it beside the files (repo, the revision asked for, the commit it resolved
to, each file's sha256); ingest reads it so source-provided captions cite the exact commit, and a
release built from them cites it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HUB_SOURCE_NAME = "HUB_SOURCE.json"
_LEVELS = 3  # a dataset folder sits at most this deep below the downloaded folder


@dataclass(frozen=True, slots=True)
class HubSource:
    root: Path  # the downloaded folder holding HUB_SOURCE.json
    repo_id: str
    commit: str
    files: dict[str, str]  # path in the repo -> sha256

    def label(self, path: Path) -> str | None:
        """hf://datasets/REPO@COMMIT/PATH for a file of this download, or None if it is not one of them."""
        try:
            rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None
        return f"hf://datasets/{self.repo_id}@{self.commit}/{rel}" if rel in self.files else None


def find_hub_source(folder: Path) -> HubSource | None:
    """The HUB_SOURCE.json of `folder` or of a folder up to three levels above it, if any (unreadable: None)."""
    for candidate in [folder, *list(folder.resolve().parents)[:_LEVELS]]:
        record = candidate / HUB_SOURCE_NAME
        if record.is_file():
            try:
                doc = json.loads(record.read_text("utf-8"))
                return HubSource(candidate, doc["repo"], doc["commit"], {f["path"]: f["sha256"] for f in doc["files"]})
            except (OSError, ValueError, KeyError, TypeError):
                return None
    return None
