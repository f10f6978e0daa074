"""The QA table: each refine or review round's judgment of a translation, and the views a release and
a rerun read of it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from tipr_bench.benchmark.records import QARecord, QAStanding, Reason
from tipr_bench.benchmark.store_rows import selection_where


class QATable:
    """The Workspace's QA rows (a part of Workspace: it uses the workspace's connection and its
    `transaction`)."""

    conn: sqlite3.Connection

    def next_qa_round(self, key: str, lang: str) -> int:
        row = self.conn.execute("SELECT MAX(round) FROM qa WHERE key = ? AND lang = ?", (key, lang)).fetchone()
        return 0 if row[0] is None else row[0] + 1

    def put_qa(self, records: Iterable[QARecord]) -> int:
        """Writes the records in one transaction, one row at a time (80,000 rows are not held at once)."""
        written = 0

        def rows():
            nonlocal written
            for q in records:
                written += 1
                yield (q.key, q.lang, q.round, q.back_translation, q.chrf, q.bleu, q.qe,
                       json.dumps(list(q.terms_expected), ensure_ascii=False),
                       json.dumps(list(q.terms_met), ensure_ascii=False), q.verdict,
                       json.dumps([r.to_json() for r in q.reasons], ensure_ascii=False), q.created_at)

        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO qa (key, lang, round, back_translation, chrf, bleu, qe, "
                "terms_expected, terms_met, verdict, reasons, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                rows(),
            )
        return written

    def qa(self, lang: str, dataset: str | None = None, split: str | None = None) -> dict[str, QARecord]:
        """The latest QA round per caption."""
        where, args = selection_where(dataset, split)
        rows = self.conn.execute(
            f"SELECT q.* FROM qa q JOIN captions c ON c.key = q.key AND q.lang = ?{where} ORDER BY q.round",
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

    def qa_standings(self, lang: str, dataset: str | None = None, split: str | None = None) -> dict[str, QAStanding]:
        """Per caption, the latest verdict and the latest scores: what a release counts, without the
        back-translations and reasons that make a whole QA record (a few KB a caption)."""
        where, args = selection_where(dataset, split)
        rows = self.conn.execute(
            f"SELECT q.key, q.verdict, q.qe, q.chrf FROM qa q JOIN captions c ON c.key = q.key AND q.lang = ?{where} "
            "ORDER BY q.round",
            [lang, *args],
        )
        verdicts: dict[str, str] = {}
        scores: dict[str, tuple[float | None, float | None]] = {}
        for key, verdict, qe, chrf in rows:
            verdicts[key] = verdict
            if qe is not None or chrf is not None:
                scores[key] = (qe, chrf)
        return {key: QAStanding(verdict, *scores.get(key, (None, None))) for key, verdict in verdicts.items()}
