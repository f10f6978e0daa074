"""The workspace: one folder, one SQLite database in WAL mode holding the state and the cache.

English captions live in `captions`; every other language's text lives in `translations`
(provenance source, machine or human), keyed like its English caption. Each write is one
transaction, so a killed process loses nothing that had finished.

A workspace the process cannot write (a read-only mount, a folder without write permission) opens
read-only: reading works, and the first write is refused with one line. A writing command opens it
with `writer=`, which refuses a read-only workspace at once and takes the writer lock (core/writer_lock.py),
so two commands never do the same model work side by side.

The store is a few modules, all its SQL among them: this one (the Workspace: datasets, captions,
translations, QA, meta), store_schema (the schema, its upgrades, opening read-write or read-only),
store_rows (records to rows and back), store_results (evaluation results), store_qe_cache (QE vectors).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.store_qa import QATable
from tipr_bench.benchmark.store_qe_cache import QEEmbeddingCache
from tipr_bench.benchmark.store_results import ResultTable
from tipr_bench.benchmark.store_rows import (
    CAPTION_ORDER,
    TRANSLATION_COLUMNS,
    TranslationSlot,
    caption_from_row,
    selection_where,
    translation_from_row,
    translation_row,
)
from tipr_bench.benchmark.store_schema import (
    Transaction,
    connect_read_only,
    connect_writable,
    read_only_message,
    why_read_only,
)
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError
from tipr_bench.core.writer_lock import WriterLock

DB_NAME = "tipr.sqlite"


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


class Workspace(ResultTable, QEEmbeddingCache, QATable):
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
        why = why_read_only(root, db) if db.exists() else None
        if why is not None:
            if writer is not None:
                raise UserError(read_only_message(root, why, writer))
            return cls(root, connect_read_only(root, db), read_only=True)
        root.mkdir(parents=True, exist_ok=True)
        lock = WriterLock.acquire(root, writer) if writer is not None else None
        try:
            conn = connect_writable(db)
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
            raise UserError(read_only_message(self.root, why_read_only(self.root, self.root / DB_NAME)
                                              or "opened read-only", "this command"))
        return Transaction(self.conn)

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
        where, args = selection_where(dataset, split)
        order = CAPTION_ORDER
        tail = f" LIMIT {int(limit)}" if limit else ""
        if lang == "en":
            rows = self.conn.execute(f"SELECT c.* FROM captions c{where}{order}{tail}", args)
            return [caption_from_row(r) for r in rows]
        status_clause = ""
        if statuses is not None:
            statuses = list(statuses)
            status_clause = f" AND t.status IN ({','.join('?' * len(statuses))})"
        rows = self.conn.execute(
            f"SELECT c.*, t.text AS t_text FROM captions c JOIN translations t "
            f"ON t.key = c.key AND t.lang = ?{status_clause}{where}{order}{tail}",
            [lang, *(statuses or []), *args],
        )
        return [caption_from_row(r, lang, r["t_text"]) for r in rows]

    def caption_texts(self, dataset: str | None = None, split: str | None = None,
                      limit: int | None = None) -> list[tuple[str, str]]:
        """(key, English text) in `captions`' order, reading only those two columns (80k captions)."""
        where, args = selection_where(dataset, split)
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
        where, args = selection_where(dataset, None, prefix="")
        return [tuple(r) for r in self.conn.execute(
            f"SELECT DISTINCT dataset, split FROM captions{where} ORDER BY dataset, split", args)]

    # -- translations ----------------------------------------------------------------------

    def put_translations(self, translations: Iterable[Translation], keep_history: bool = True) -> int:
        """Upsert translations in one transaction; a replaced row goes to translation_history."""
        rows = [translation_row(t) for t in translations]
        if not rows:
            return 0
        with self.transaction():
            if keep_history:
                self.conn.executemany(
                    f"INSERT INTO translation_history ({TRANSLATION_COLUMNS}, replaced_at) "
                    f"SELECT {TRANSLATION_COLUMNS}, ? FROM translations WHERE key = ? AND lang = ?",
                    [(utc_now(), r[0], r[1]) for r in rows],
                )
            self.conn.executemany(
                f"INSERT OR REPLACE INTO translations ({TRANSLATION_COLUMNS}) "
                f"VALUES ({','.join('?' * 15)})",
                rows,
            )
        return len(rows)

    def translations(
        self, lang: str, dataset: str | None = None, split: str | None = None
    ) -> dict[str, Translation]:
        where, args = selection_where(dataset, split)
        rows = self.conn.execute(
            f"SELECT t.* FROM translations t JOIN captions c ON c.key = t.key AND t.lang = ?{where}",
            [lang, *args],
        )
        return {r["key"]: translation_from_row(r) for r in rows}

    def translation_states(self, lang: str, dataset: str | None = None, split: str | None = None
                           ) -> Iterator[tuple[str, str, str, str, int]]:
        """(key, text, status, provenance, round) of each translation in the selection, by key: what says
        whether translations changed, one row at a time (no records held)."""
        where, args = selection_where(dataset, split)
        yield from self.conn.execute(
            f"SELECT t.key, t.text, t.status, t.provenance, t.round FROM translations t "
            f"JOIN captions c ON c.key = t.key AND t.lang = ?{where} ORDER BY t.key",
            [lang, *args],
        )

    def untranslated_keys(self, lang: str, dataset: str | None = None, split: str | None = None) -> set[str]:
        """Keys of English captions in the selection with no usable (ok or flagged) `lang` translation."""
        where, args = selection_where(dataset, split)
        rows = self.conn.execute(
            f"SELECT c.key FROM captions c LEFT JOIN translations t ON t.key = c.key AND t.lang = ? "
            f"AND t.status IN ('ok', 'flagged'){where}{' AND' if where else ' WHERE'} t.key IS NULL",
            [lang, *args],
        )
        return {r[0] for r in rows}

    def refine_rewritten_keys(self, lang: str, dataset: str | None = None, split: str | None = None) -> set[str]:
        """Keys whose text a refine round replaced (a machine translation of round > 0, current or since
        replaced by a reviewer's): a human row's own round does not make it a rewrite."""
        where, args = selection_where(dataset, split)
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

    def translation_history(self, key: str, lang: str) -> list[Translation]:
        rows = self.conn.execute(
            f"SELECT {TRANSLATION_COLUMNS} FROM translation_history WHERE key = ? AND lang = ? "
            "ORDER BY rowid",
            (key, lang),
        )
        return [translation_from_row(r) for r in rows]

    def languages(self, dataset: str | None = None) -> list[str]:
        """English and every language with at least one translation (of `dataset`'s captions)."""
        if dataset is None:
            return ["en", *(r[0] for r in self.conn.execute("SELECT DISTINCT lang FROM translations ORDER BY lang"))]
        return ["en", *(r[0] for r in self.conn.execute(
            "SELECT DISTINCT t.lang FROM translations t JOIN captions c ON c.key = t.key WHERE c.dataset = ? "
            "ORDER BY t.lang", (dataset,)))]

    # -- QA --------------------------------------------------------------------------------

    # -- settings other stages record (QA thresholds, glossary versions) for dataset cards ----

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)",
                                  [(k, str(v)) for k, v in values.items()])

    def meta(self, prefixes: tuple[str, ...] = ("",)) -> dict[str, str]:
        rows = self.conn.execute("SELECT k, v FROM meta ORDER BY k")
        return {r["k"]: r["v"] for r in rows if r["k"].startswith(prefixes)}

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
