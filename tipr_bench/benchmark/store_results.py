"""Evaluation results: the workspace's `results` table, one row per scored (model, dataset, query language,
split, direction), which the leaderboard reads."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from tipr_bench.core.clock import utc_now


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


class ResultTable:
    """The Workspace's evaluation results (a part of Workspace: it uses the workspace's connection and
    its `transaction`)."""

    conn: sqlite3.Connection

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
