"""The QE-embedding cache: vectors of English sources by model and text sha256, shared by every target
language and every rerun of refine (the `qe_embeddings` table)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence


class QEEmbeddingCache:
    """The Workspace's QE embeddings (a part of Workspace: it uses the workspace's connection and its
    `transaction`)."""

    conn: sqlite3.Connection

    def qe_embeddings(self, model: str, text_hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored vectors (raw bytes) of `model` for the texts with these sha256 hashes."""
        found: dict[str, bytes] = {}
        for i in range(0, len(text_hashes), 900):  # below SQLite's limit of host parameters
            chunk = list(text_hashes[i:i + 900])
            rows = self.conn.execute(
                f"SELECT text_sha256, vector FROM qe_embeddings WHERE model = ? AND text_sha256 IN "
                f"({','.join('?' * len(chunk))})", (model, *chunk))
            found.update((r[0], r[1]) for r in rows)
        return found

    def put_qe_embeddings(self, model: str, vectors: Iterable[tuple[str, bytes]]) -> None:
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO qe_embeddings (model, text_sha256, vector) "
                                  "VALUES (?, ?, ?)", [(model, h, v) for h, v in vectors])
