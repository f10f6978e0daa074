"""The workspace database's schema, how an older one is brought up to date, and opening it: read-write,
or read-only where this process cannot write (a read-only mount, a folder without write permission).

Part of the store (store.py holds the Workspace): all SQL lives in the store_* modules.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

from tipr_bench.core.errors import UserError

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    slug TEXT PRIMARY KEY, root TEXT NOT NULL, image_root TEXT NOT NULL,
    annotation TEXT NOT NULL, ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS captions (
    key TEXT PRIMARY KEY, dataset TEXT NOT NULL, split TEXT NOT NULL, person_id INTEGER NOT NULL,
    image_path TEXT NOT NULL, caption_index INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS captions_by_split ON captions (dataset, split);
CREATE TABLE IF NOT EXISTS translations (
    key TEXT NOT NULL, lang TEXT NOT NULL, text TEXT NOT NULL, backend TEXT NOT NULL,
    model TEXT NOT NULL, prompt_id TEXT NOT NULL, prompt_sha256 TEXT NOT NULL, params TEXT NOT NULL,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    provenance TEXT NOT NULL, round INTEGER NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (key, lang)
);
CREATE TABLE IF NOT EXISTS translation_history (
    key TEXT NOT NULL, lang TEXT NOT NULL, text TEXT NOT NULL, backend TEXT NOT NULL,
    model TEXT NOT NULL, prompt_id TEXT NOT NULL, prompt_sha256 TEXT NOT NULL, params TEXT NOT NULL,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    provenance TEXT NOT NULL, round INTEGER NOT NULL, created_at TEXT NOT NULL, replaced_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS qa (
    key TEXT NOT NULL, lang TEXT NOT NULL, round INTEGER NOT NULL, back_translation TEXT NOT NULL,
    chrf REAL, bleu REAL, qe REAL, terms_expected TEXT NOT NULL, terms_met TEXT NOT NULL,
    verdict TEXT NOT NULL, reasons TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (key, lang, round)
);
CREATE TABLE IF NOT EXISTS translation_cache (
    key TEXT PRIMARY KEY, text TEXT NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,
    finish_reason TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, dataset TEXT NOT NULL,
    query_lang TEXT NOT NULL, train_lang TEXT NOT NULL, split TEXT NOT NULL, direction TEXT NOT NULL,
    metrics TEXT NOT NULL, checkpoint_sha256 TEXT NOT NULL, created_at TEXT NOT NULL,
    n_queries INTEGER, n_gallery INTEGER, n_left_out INTEGER, selection TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS qe_embeddings (
    model TEXT NOT NULL, text_sha256 TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256)
) WITHOUT ROWID;
"""
# Columns added to `results` after its first release: (name, declaration) for ALTER TABLE.
RESULT_COLUMNS_ADDED = (("n_queries", "INTEGER"), ("n_gallery", "INTEGER"), ("n_left_out", "INTEGER"),
                        ("selection", "TEXT NOT NULL DEFAULT ''"))


def connect_writable(db: Path) -> sqlite3.Connection:
    """A read-write connection, the schema brought up to date."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    have = {r["name"] for r in conn.execute("PRAGMA table_info(results)")}
    for name, declaration in RESULT_COLUMNS_ADDED:
        if name not in have:
            conn.execute(f"ALTER TABLE results ADD COLUMN {name} {declaration}")
    conn.execute("INSERT OR IGNORE INTO meta (k, v) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return conn


def why_read_only(root: Path, db: Path) -> str | None:
    """Why this process cannot write the workspace (None: it can). SQLite needs the folder too, for
    its -wal and -shm files."""
    if os.access(db, os.W_OK) and os.access(root, os.W_OK):
        return None
    try:
        if os.statvfs(root).f_flag & os.ST_RDONLY:
            return "a read-only file system"
    except OSError:
        pass
    return "no write permission"


def read_only_message(root: Path, why: str, command: str) -> str:
    return (f"workspace {root} is read-only ({why}): {command} writes to it; copy the folder somewhere "
            "writable, or use a reading command (status, leaderboard, export, review export, evaluate)")


def connect_read_only(root: Path, db: Path) -> sqlite3.Connection:
    """A read-only connection. SQLite reads a WAL database read-only when its -wal and -shm files exist
    or can be made; on a folder that cannot be written after a clean close they do not, and the file
    is opened as immutable (nothing can change it there)."""
    uri = f"file:{urllib.parse.quote(str(db.resolve()))}?mode=ro"
    conn = None
    for query in (uri, uri + "&immutable=1"):
        conn = sqlite3.connect(query, uri=True, timeout=30, isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            break
        except sqlite3.OperationalError:
            conn.close()
            conn = None
    if conn is None:
        raise UserError(f"cannot read the workspace {root}: {db} is read-only and SQLite cannot open it; "
                        "copy the folder somewhere writable")
    conn.row_factory = sqlite3.Row
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    columns = {r["name"] for r in conn.execute("PRAGMA table_info(results)")}
    missing = sorted({"meta", "datasets", "captions", "translations", "translation_history", "qa", "results"}
                     - tables) + [f"results.{name}" for name, _ in RESULT_COLUMNS_ADDED if name not in columns]
    if missing:
        conn.close()
        raise UserError(f"workspace {root} is read-only and was written by an older tipr-bench (it lacks "
                        f"{', '.join(missing)}): open it once where it can be written, then read it here")
    return conn


class Transaction:
    """One atomic commit (BEGIN IMMEDIATE); nested uses join the outer one."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.outer = False

    def __enter__(self):
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *_):
        if self.outer:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
