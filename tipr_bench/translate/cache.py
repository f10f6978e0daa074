"""The translation cache: raw model answers in the workspace database, keyed by what produced them.

The key is the sha256 of (backend, model, prompt sha, decoding params, rendered messages, target
language, image digest), so identical captions are translated once, a rerun resumes, and any
change in what would be sent makes a new key. The cache holds the raw answer (before checks), so
the checks can change without paying for the translations again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_LOOKUP_CHUNK = 900  # below SQLite's default limit of host parameters


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    text: str
    tokens_in: int
    tokens_out: int
    finish_reason: str


def image_digest(path: Path | None) -> str:
    """sha256 of an image's bytes ('' without an image): the key changes when the image does."""
    if path is None:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return f"unreadable:{path}"


def request_prefix(backend: str, model: str, prompt_sha: str, params: dict) -> str:
    """The part of a cache key shared by every request of one attempt (computed once per run)."""
    return json.dumps([backend, model, prompt_sha, params], sort_keys=True, separators=(",", ":"))


def key_from_prefix(prefix: str, messages: Sequence[dict], lang: str, image: str = "") -> str:
    if all(type(m.get("content")) is str for m in messages):  # the usual case, without json's cost
        body = "\x1d".join(f"{m['role']}\x1f{m['content']}" for m in messages)
    else:
        body = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prefix}\x1e{body}\x1e{lang}\x1e{image}".encode()).hexdigest()


def cache_key(
    backend: str, model: str, prompt_sha: str, params: dict, messages: Sequence[dict], lang: str, image: str = ""
) -> str:
    """sha256 of everything that decides the answer: backend, model, prompt, decoding params, the
    rendered messages (text; an image by its digest) and the target language."""
    return key_from_prefix(request_prefix(backend, model, prompt_sha, params), messages, lang, image)


class TranslationCache:
    """The `translation_cache` table on a workspace connection (the workspace's schema makes it)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def lookup(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        """Cached answers for those keys that have one, in one pass of chunked IN queries."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, CachedAnswer] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            rows = self.conn.execute(
                "SELECT key, text, tokens_in, tokens_out, finish_reason FROM translation_cache "
                f"WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for key, text, tokens_in, tokens_out, finish in rows:
                found[key] = CachedAnswer(text, tokens_in, tokens_out, finish)
        return found

    def put_rows(self, rows: Sequence[tuple]) -> None:
        """Upsert (key, text, tokens_in, tokens_out, finish_reason, backend, model, created_at) rows; call
        inside the caller's transaction to batch writes."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO translation_cache "
            "(key, text, tokens_in, tokens_out, finish_reason, backend, model, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM translation_cache").fetchone()[0]
