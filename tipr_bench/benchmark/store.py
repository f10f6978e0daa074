"""The workspace: one folder, one SQLite database in WAL mode holding the state and the cache.

English captions live in `captions`; every other language's text lives in `translations`
(provenance source, machine or human), keyed like its English caption. Each write is one
transaction, so a killed process loses nothing that had finished.

A workspace the process cannot write (a read-only mount, a folder without write permission) opens
read-only: reading works, and the first write is refused with one line. A writing command opens it
with `writer=`, which refuses a read-only workspace at once and takes the writer lock (writer_lock.py),
so two commands never do the same model work side by side.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tipr_bench.benchmark.records import Caption, QARecord, Reason, Translation
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError
from tipr_bench.core.writer_lock import WriterLock

DB_NAME = "tipr.sqlite"
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

_TRANSLATION_COLUMNS = (
    "key, lang, text, backend, model, prompt_id, prompt_sha256, params, tokens_in, tokens_out, "
    "status, reason, provenance, round, created_at"
)


@dataclass(frozen=True, slots=True)
class IngestCounts:
    added: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    slug: str
    root: str
    image_root: str
    annotation: str
    ingested_at: str


@dataclass(frozen=True, slots=True)
class EvalResult:
    model: str
    dataset: str
    query_lang: str
    train_lang: str
    split: str
    direction: str  # "t2i" or "i2t"
    metrics: dict
    checkpoint_sha256: str = ""
    created_at: str = ""
    n_queries: int | None = None  # captions scored (None: stored before counts were kept)
    n_gallery: int | None = None  # images ranked
    n_left_out: int | None = None  # captions of the split with no usable text in query_lang
    selection: str = ""  # what chose the checkpoint's epoch: "val", "test" (the reference's) or "" (unknown)


def _translation_row(t: Translation) -> tuple:
    return (
        t.key, t.lang, t.text, t.backend, t.model, t.prompt_id, t.prompt_sha256, t.params_json,
        t.tokens_in, t.tokens_out, t.status, t.reason, t.provenance, t.round, t.created_at,
    )


def _translation_from_row(row: sqlite3.Row) -> Translation:
    return Translation(
        key=row["key"], lang=row["lang"], text=row["text"], backend=row["backend"], model=row["model"],
        prompt_id=row["prompt_id"], prompt_sha256=row["prompt_sha256"], params=json.loads(row["params"]),
        tokens_in=row["tokens_in"], tokens_out=row["tokens_out"], status=row["status"],
        reason=row["reason"], provenance=row["provenance"], round=row["round"], created_at=row["created_at"],
    )


def _caption_from_row(row: sqlite3.Row, lang: str = "en", text: str | None = None) -> Caption:
    return Caption(
        dataset=row["dataset"], split=row["split"], person_id=row["person_id"], image_path=row["image_path"],
        caption_index=row["caption_index"], lang=lang, text=row["text"] if text is None else text,
    )


CAPTION_ORDER = " ORDER BY c.dataset, c.split, c.person_id, c.image_path, c.caption_index"


class TranslationSlot(NamedTuple):
    key: str
    text: str
    status: str
    reason: str
    prompt_sha256: str
    model: str
    backend: str
    round: int
    provenance: str


def _where(dataset: str | None, split: str | None, prefix: str = "c.") -> tuple[str, list]:
    clauses, args = [], []
    if dataset:
        clauses.append(f"{prefix}dataset = ?")
        args.append(dataset)
    if split:
        clauses.append(f"{prefix}split = ?")
        args.append(split)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class Workspace:
    """A tipr-bench workspace folder. Open it with `Workspace.open(path)`; usable as a context manager.

    `read_only` is True when this process cannot write it; then every write raises a UserError."""

    def __init__(self, root: Path, conn: sqlite3.Connection, *, read_only: bool = False,
                 lock: WriterLock | None = None):
        self.root = root
        self.conn = conn
        self.read_only = read_only
        self._lock = lock

    @classmethod
    def open(cls, root: str | Path, create: bool = True, *, writer: str | None = None) -> Workspace:
        """Open (or, with `create`, make) the workspace at `root`. `writer` names the command that will
        write (e.g. "tipr-bench translate"): a read-only workspace is then refused at once, and the
        writer lock is taken, refusing a second writing command while this one runs."""
        root = Path(root)
        db = root / DB_NAME
        if not create and not db.exists():
            raise UserError(f"no workspace at {root}: run `tipr-bench ingest --root PATH --workspace {root}` first")
        why_read_only = _why_read_only(root, db) if db.exists() else None
        if why_read_only is not None:
            if writer is not None:
                raise UserError(read_only_message(root, why_read_only, writer))
            return cls(root, _connect_read_only(root, db), read_only=True)
        root.mkdir(parents=True, exist_ok=True)
        lock = WriterLock.acquire(root, writer) if writer is not None else None
        try:
            conn = _connect(db)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(root, conn, lock=lock)

    def close(self) -> None:
        self.conn.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        """`with ws.transaction():` groups writes into one atomic commit; every write goes through here,
        so a read-only workspace refuses it with one line."""
        if self.read_only:
            raise UserError(read_only_message(self.root, _why_read_only(self.root, self.root / DB_NAME)
                                              or "opened read-only", "this command"))
        return _Transaction(self.conn)

    # -- datasets and captions -------------------------------------------------------------

    def ingest(self, info: DatasetInfo, captions: Sequence[Caption]) -> IngestCounts:
        """Insert or update English captions; the same data twice changes nothing."""
        existing = {
            row["key"]: tuple(row)[1:]
            for row in self.conn.execute(
                "SELECT key, split, person_id, image_path, caption_index, text FROM captions WHERE dataset = ?",
                (info.slug,),
            )
        }
        fresh, changed = [], []
        for c in captions:
            values = (c.split, c.person_id, c.image_path, c.caption_index, c.text)
            old = existing.get(c.key)
            if old is None:
                fresh.append((c.key, c.dataset, *values))
            elif old != values:
                changed.append((*values, c.key))
        with self.transaction():
            previous = self.dataset(info.slug)
            if previous is None or (previous.root, previous.image_root, previous.annotation) != (
                info.root, info.image_root, info.annotation,
            ) or fresh or changed:
                self.conn.execute(
                    "INSERT OR REPLACE INTO datasets (slug, root, image_root, annotation, ingested_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (info.slug, info.root, info.image_root, info.annotation, info.ingested_at),
                )
            self.conn.executemany(
                "INSERT INTO captions (key, dataset, split, person_id, image_path, caption_index, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                fresh,
            )
            self.conn.executemany(
                "UPDATE captions SET split = ?, person_id = ?, image_path = ?, caption_index = ?, text = ? "
                "WHERE key = ?",
                changed,
            )
        return IngestCounts(len(fresh), len(changed), len(captions) - len(fresh) - len(changed))

    def dataset(self, slug: str) -> DatasetInfo | None:
        row = self.conn.execute("SELECT * FROM datasets WHERE slug = ?", (slug,)).fetchone()
        return DatasetInfo(**dict(row)) if row else None

    def datasets(self) -> list[DatasetInfo]:
        return [DatasetInfo(**dict(r)) for r in self.conn.execute("SELECT * FROM datasets ORDER BY slug")]

    def captions(
        self,
        dataset: str | None = None,
        split: str | None = None,
        lang: str = "en",
        statuses: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[Caption]:
        """Captions in a language, in a stable order. Non-English ones are the current translations;
        captions with no translation in that language are left out."""
        where, args = _where(dataset, split)
        order = CAPTION_ORDER
        tail = f" LIMIT {int(limit)}" if limit else ""
        if lang == "en":
            rows = self.conn.execute(f"SELECT c.* FROM captions c{where}{order}{tail}", args)
            return [_caption_from_row(r) for r in rows]
        status_clause = ""
        if statuses is not None:
            statuses = list(statuses)
            status_clause = f" AND t.status IN ({','.join('?' * len(statuses))})"
        rows = self.conn.execute(
            f"SELECT c.*, t.text AS t_text FROM captions c JOIN translations t "
            f"ON t.key = c.key AND t.lang = ?{status_clause}{where}{order}{tail}",
            [lang, *(statuses or []), *args],
        )
        return [_caption_from_row(r, lang, r["t_text"]) for r in rows]

    def caption_texts(self, dataset: str | None = None, split: str | None = None,
                      limit: int | None = None) -> list[tuple[str, str]]:
        """(key, English text) in `captions`' order, reading only those two columns (80k captions)."""
        where, args = _where(dataset, split)
        tail = f" LIMIT {int(limit)}" if limit else ""
        return [tuple(r) for r in self.conn.execute(
            f"SELECT c.key, c.text FROM captions c{where}{CAPTION_ORDER}{tail}", args)]

    def caption_count(self, dataset: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM captions WHERE dataset = ?", (dataset,)).fetchone()[0]

    def datasets_with(self, lang: str) -> list[str]:
        """Slugs of the datasets with at least one `lang` translation."""
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT c.dataset FROM captions c JOIN translations t ON t.key = c.key AND t.lang = ? "
            "ORDER BY c.dataset", (lang,))]

    def frame(self, lang: str = "en", dataset: str | None = None, split: str | None = None):
        """`captions(...)` as a pandas DataFrame; a translation's rows add status, provenance, backend,
        model and round (see benchmark/caption_tables.py)."""
        from tipr_bench.benchmark.caption_tables import captions_frame

        captions = self.captions(dataset, split, lang)
        return captions_frame(captions, None if lang == "en" else self.translations(lang, dataset, split))

    def splits(self, dataset: str | None = None) -> list[tuple[str, str]]:
        where, args = _where(dataset, None, prefix="")
        return [tuple(r) for r in self.conn.execute(
            f"SELECT DISTINCT dataset, split FROM captions{where} ORDER BY dataset, split", args)]

    # -- translations ----------------------------------------------------------------------

    def put_translations(self, translations: Iterable[Translation], keep_history: bool = True) -> int:
        """Upsert translations in one transaction; a replaced row goes to translation_history."""
        rows = [_translation_row(t) for t in translations]
        if not rows:
            return 0
        with self.transaction():
            if keep_history:
                self.conn.executemany(
                    f"INSERT INTO translation_history ({_TRANSLATION_COLUMNS}, replaced_at) "
                    f"SELECT {_TRANSLATION_COLUMNS}, ? FROM translations WHERE key = ? AND lang = ?",
                    [(utc_now(), r[0], r[1]) for r in rows],
                )
            self.conn.executemany(
                f"INSERT OR REPLACE INTO translations ({_TRANSLATION_COLUMNS}) "
                f"VALUES ({','.join('?' * 15)})",
                rows,
            )
        return len(rows)

    def translations(
        self, lang: str, dataset: str | None = None, split: str | None = None
    ) -> dict[str, Translation]:
        where, args = _where(dataset, split)
        rows = self.conn.execute(
            f"SELECT t.* FROM translations t JOIN captions c ON c.key = t.key AND t.lang = ?{where}",
            [lang, *args],
        )
        return {r["key"]: _translation_from_row(r) for r in rows}

    def untranslated_keys(self, lang: str, dataset: str | None = None, split: str | None = None) -> set[str]:
        """Keys of English captions in the selection with no usable (ok or flagged) `lang` translation."""
        where, args = _where(dataset, split)
        rows = self.conn.execute(
            f"SELECT c.key FROM captions c LEFT JOIN translations t ON t.key = c.key AND t.lang = ? "
            f"AND t.status IN ('ok', 'flagged'){where}{' AND' if where else ' WHERE'} t.key IS NULL",
            [lang, *args],
        )
        return {r[0] for r in rows}

    def refine_rewritten_keys(self, lang: str, dataset: str | None = None, split: str | None = None) -> set[str]:
        """Keys whose text a refine round replaced (a machine translation of round > 0, current or since
        replaced by a reviewer's): a human row's own round does not make it a rewrite."""
        where, args = _where(dataset, split)
        rows = self.conn.execute(
            f"SELECT t.key FROM (SELECT key, lang, provenance, round FROM translations UNION ALL "
            f"SELECT key, lang, provenance, round FROM translation_history) t JOIN captions c ON c.key = t.key "
            f"AND t.lang = ? AND t.provenance = 'machine' AND t.round > 0{where}",
            [lang, *args],
        )
        return {r[0] for r in rows}

    def keys_with_provenance(self, lang: str, provenances: Iterable[str]) -> set[str]:
        provenances = list(provenances)
        marks = ",".join("?" * len(provenances))
        return {r[0] for r in self.conn.execute(
            f"SELECT key FROM translations WHERE lang = ? AND provenance IN ({marks})", (lang, *provenances))}

    def translation_slots(self, lang: str) -> Iterator[TranslationSlot]:
        """What a translate run compares against before writing, without building full records."""
        for row in self.conn.execute(
            "SELECT key, text, status, reason, prompt_sha256, model, backend, round, provenance "
            "FROM translations WHERE lang = ?", (lang,),
        ):
            yield TranslationSlot(*row)

    def next_round(self, lang: str) -> int:
        """The round after every QA round and translation round of `lang` so far (refine numbers its runs)."""
        row = self.conn.execute(
            "SELECT MAX(r) FROM (SELECT MAX(round) AS r FROM qa WHERE lang = ? "
            "UNION ALL SELECT MAX(round) FROM translations WHERE lang = ?)", (lang, lang)).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def next_qa_round(self, key: str, lang: str) -> int:
        row = self.conn.execute("SELECT MAX(round) FROM qa WHERE key = ? AND lang = ?", (key, lang)).fetchone()
        return 0 if row[0] is None else row[0] + 1

    def translation_history(self, key: str, lang: str) -> list[Translation]:
        rows = self.conn.execute(
            f"SELECT {_TRANSLATION_COLUMNS} FROM translation_history WHERE key = ? AND lang = ? "
            "ORDER BY rowid",
            (key, lang),
        )
        return [_translation_from_row(r) for r in rows]

    def languages(self, dataset: str | None = None) -> list[str]:
        """English and every language with at least one translation (of `dataset`'s captions)."""
        if dataset is None:
            return ["en", *(r[0] for r in self.conn.execute("SELECT DISTINCT lang FROM translations ORDER BY lang"))]
        return ["en", *(r[0] for r in self.conn.execute(
            "SELECT DISTINCT t.lang FROM translations t JOIN captions c ON c.key = t.key WHERE c.dataset = ? "
            "ORDER BY t.lang", (dataset,)))]

    # -- QA --------------------------------------------------------------------------------

    def put_qa(self, records: Iterable[QARecord]) -> int:
        rows = [
            (q.key, q.lang, q.round, q.back_translation, q.chrf, q.bleu, q.qe,
             json.dumps(list(q.terms_expected), ensure_ascii=False),
             json.dumps(list(q.terms_met), ensure_ascii=False), q.verdict,
             json.dumps([r.to_json() for r in q.reasons], ensure_ascii=False), q.created_at)
            for q in records
        ]
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO qa (key, lang, round, back_translation, chrf, bleu, qe, "
                "terms_expected, terms_met, verdict, reasons, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
        return len(rows)

    def qa(self, lang: str, dataset: str | None = None, split: str | None = None,
           scored: bool = False) -> dict[str, QARecord]:
        """The latest QA round per caption; with `scored`, the latest round that has a QE or chrF score
        (a review round records a person's verdict, not scores)."""
        where, args = _where(dataset, split)
        with_scores = " AND (q.qe IS NOT NULL OR q.chrf IS NOT NULL)" if scored else ""
        rows = self.conn.execute(
            f"SELECT q.* FROM qa q JOIN captions c ON c.key = q.key AND q.lang = ?{with_scores}{where} "
            "ORDER BY q.round",
            [lang, *args],
        )
        latest: dict[str, QARecord] = {}
        for r in rows:
            latest[r["key"]] = QARecord(
                key=r["key"], lang=r["lang"], back_translation=r["back_translation"], chrf=r["chrf"],
                bleu=r["bleu"], qe=r["qe"], terms_expected=tuple(json.loads(r["terms_expected"])),
                terms_met=tuple(json.loads(r["terms_met"])), verdict=r["verdict"],
                reasons=tuple(Reason.from_json(x) for x in json.loads(r["reasons"])), round=r["round"],
                created_at=r["created_at"],
            )
        return latest

    # -- evaluation results ----------------------------------------------------------------

    def add_result(self, result: EvalResult) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO results (model, dataset, query_lang, train_lang, split, direction, metrics, "
                "checkpoint_sha256, created_at, n_queries, n_gallery, n_left_out, selection) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (result.model, result.dataset, result.query_lang, result.train_lang, result.split,
                 result.direction, json.dumps(result.metrics), result.checkpoint_sha256,
                 result.created_at or utc_now(), result.n_queries, result.n_gallery, result.n_left_out,
                 result.selection),
            )

    def results(self) -> list[EvalResult]:
        rows = self.conn.execute("SELECT * FROM results ORDER BY id")
        return [
            EvalResult(
                model=r["model"], dataset=r["dataset"], query_lang=r["query_lang"], train_lang=r["train_lang"],
                split=r["split"], direction=r["direction"], metrics=json.loads(r["metrics"]),
                checkpoint_sha256=r["checkpoint_sha256"], created_at=r["created_at"], n_queries=r["n_queries"],
                n_gallery=r["n_gallery"], n_left_out=r["n_left_out"], selection=r["selection"],
            )
            for r in rows
        ]

    # -- settings other stages record (QA thresholds, glossary versions) for dataset cards ----

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)",
                                  [(k, str(v)) for k, v in values.items()])

    def meta(self, prefixes: tuple[str, ...] = ("",)) -> dict[str, str]:
        rows = self.conn.execute("SELECT k, v FROM meta ORDER BY k")
        return {r["k"]: r["v"] for r in rows if r["k"].startswith(prefixes)}

    # -- QE embeddings of English sources, shared by every target language and rerun ------------

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

    # -- summary ---------------------------------------------------------------------------

    def summary(self) -> list[dict]:
        """Per dataset and split: images, captions, person ids, and per language translated/flagged/failed."""
        out = []
        for row in self.conn.execute(
            "SELECT dataset, split, COUNT(DISTINCT image_path) AS images, COUNT(*) AS captions, "
            "COUNT(DISTINCT person_id) AS persons FROM captions GROUP BY dataset, split ORDER BY dataset, split"
        ):
            langs = {}
            for t in self.conn.execute(
                "SELECT t.lang, t.status, COUNT(*) FROM translations t JOIN captions c ON c.key = t.key "
                "WHERE c.dataset = ? AND c.split = ? GROUP BY t.lang, t.status",
                (row["dataset"], row["split"]),
            ):
                langs.setdefault(t[0], {"ok": 0, "flagged": 0, "failed": 0})[t[1]] = t[2]
            out.append({**dict(row), "languages": langs})
        return out


def _connect(db: Path) -> sqlite3.Connection:
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


def _why_read_only(root: Path, db: Path) -> str | None:
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


def _connect_read_only(root: Path, db: Path) -> sqlite3.Connection:
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


class _Transaction:
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
