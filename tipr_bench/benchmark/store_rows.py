"""How captions and translations map to the store's SQL rows and back, and the WHERE that a selection
(dataset, split) adds to a query. Part of the store: all SQL lives in the store_* modules."""

from __future__ import annotations

import json
import sqlite3
from typing import NamedTuple

from tipr_bench.benchmark.records import Caption, Translation

TRANSLATION_COLUMNS = (
    "key, lang, text, backend, model, prompt_id, prompt_sha256, params, tokens_in, tokens_out, "
    "status, reason, provenance, round, created_at"
)


def translation_row(t: Translation) -> tuple:
    return (
        t.key, t.lang, t.text, t.backend, t.model, t.prompt_id, t.prompt_sha256, t.params_json,
        t.tokens_in, t.tokens_out, t.status, t.reason, t.provenance, t.round, t.created_at,
    )


def translation_from_row(row: sqlite3.Row) -> Translation:
    return Translation(
        key=row["key"], lang=row["lang"], text=row["text"], backend=row["backend"], model=row["model"],
        prompt_id=row["prompt_id"], prompt_sha256=row["prompt_sha256"], params=json.loads(row["params"]),
        tokens_in=row["tokens_in"], tokens_out=row["tokens_out"], status=row["status"],
        reason=row["reason"], provenance=row["provenance"], round=row["round"], created_at=row["created_at"],
    )


def caption_from_row(row: sqlite3.Row, lang: str = "en", text: str | None = None) -> Caption:
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


def selection_where(dataset: str | None, split: str | None, prefix: str = "c.") -> tuple[str, list]:
    clauses, args = [], []
    if dataset:
        clauses.append(f"{prefix}dataset = ?")
        args.append(dataset)
    if split:
        clauses.append(f"{prefix}split = ?")
        args.append(split)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args
