"""Writers for the file formats a release ships. Every writer is deterministic: the same rows give
the same bytes, so rebuilding a release from the same workspace gives the same checksums.

- parquet: data/<lang>/<split>.parquet, the canonical form (COLUMNS, strings and int64).
- jsonl:   data/<lang>/<split>.jsonl, the same rows, one JSON object per line.
- irra:    irra/<lang>/reid_raw.json, IRRA's CUHK-PEDES layout: one record per image
           {split, id, file_path, captions}; a language's record holds the captions it has.
- bi-irra: bi-irra/{code}/{split}_reid_{en,code}.json, the published multilingual layout per
           (English, target) pair, the unit Bi-IRRA trains on: lists of {file_path, id, captions},
           index-aligned within the pair (see `aligned_records`), so one language's gaps never empty
           another pair's files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tipr_bench.core.atomic import write_durable
from tipr_bench.core.languages import file_code
from tipr_bench.release.collect import COLUMNS, INT_COLUMNS

FORMATS = ("parquet", "jsonl", "irra", "bi-irra")

SCHEMA = pa.schema([(c, pa.int64() if c in INT_COLUMNS else pa.string()) for c in COLUMNS])


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write_parquet(path: Path, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=9, write_statistics=True,
                   use_dictionary=True, row_group_size=1 << 20)
    write_durable(path, sink.getvalue().to_pybytes())


def write_jsonl(path: Path, rows: list[dict]) -> None:
    lines = [json.dumps({c: r[c] for c in COLUMNS}, ensure_ascii=False, separators=(",", ":")) for r in rows]
    write_durable(path, ("\n".join(lines) + "\n").encode("utf-8") if lines else b"")


def _images(rows: list[dict]) -> dict[str, tuple[int, dict[int, str]]]:
    """image_path -> (person_id, caption_index -> text), in row order."""
    images: dict[str, tuple[int, dict[int, str]]] = {}
    for r in rows:
        images.setdefault(r["image_path"], (r["person_id"], {}))[1][r["caption_index"]] = r["text"]
    return images


def write_irra(path: Path, rows_by_split: dict[str, list[dict]]) -> int:
    """One reid_raw.json for a language, all splits; returns the number of image records."""
    records = []
    for split, rows in rows_by_split.items():
        for image_path, (pid, texts) in _images(rows).items():
            records.append({"split": split, "id": pid, "file_path": image_path,
                            "captions": [texts[i] for i in sorted(texts)]})
    write_durable(path, _json_bytes(records))
    return len(records)


def aligned_records(rows_by_lang: dict[str, list[dict]]) -> tuple[list[tuple[str, int, list[int]]], int]:
    """The index-aligned record plan for one split: [(image_path, person_id, caption indices)].

    A caption is kept only when every language in the release has it, so record i and caption j
    mean the same thing in every file; an image left with no caption is dropped. Returns the plan
    and how many (image, caption) slots were dropped for lack of a translation in some language.
    """
    per_lang = {lang: _images(rows) for lang, rows in rows_by_lang.items()}
    order: dict[str, int] = {}
    for images in per_lang.values():
        for image_path, (pid, _) in images.items():
            order.setdefault(image_path, pid)
    plan, dropped = [], 0
    for image_path, pid in order.items():
        sets = [set(images[image_path][1]) if image_path in images else set() for images in per_lang.values()]
        union = set().union(*sets)
        common = sorted(set.intersection(*sets)) if sets else []
        dropped += len(union) - len(common)
        if common:
            plan.append((image_path, pid, common))
    return plan, dropped


def write_bi_irra(folder: Path, split: str, lang: str, english: list[dict], target: list[dict]) -> int:
    """{split}_reid_en.json and {split}_reid_{code}.json of the (English, `lang`) pair, written into
    `folder`; returns how many English captions were left out (no `lang` translation)."""
    plan, _ = aligned_records({"en": english, lang: target})
    for code, rows in (("en", english), (lang, target)):
        images = _images(rows)
        records = [{"file_path": p, "id": pid, "captions": [images[p][1][i] for i in idx]} for p, pid, idx in plan]
        write_durable(folder / f"{split}_reid_{file_code(code)}.json", _json_bytes(records))
    return len(english) - sum(len(idx) for _, _, idx in plan)
