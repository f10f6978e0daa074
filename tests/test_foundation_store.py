"""The workspace store and ingest on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tipr_bench.benchmark.ingest import ingest_dataset
from tipr_bench.benchmark.records import QARecord, Reason, ReasonKind, Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.benchmark.store_results import EvalResult
from tipr_bench.core.errors import UserError


def make_dataset(root, captions_per_image=2, persons=3, with_images=True):
    root.mkdir(parents=True, exist_ok=True)
    records = []
    for pid in range(1, persons + 1):
        for img in range(2):
            path = f"synth/{pid:04d}_{img}.png"
            records.append({
                "split": "train" if pid < persons else "test", "id": pid, "file_path": path,
                "captions": [f"Person {pid} image {img} caption {j}." for j in range(captions_per_image)],
            })
            if with_images:
                (root / "imgs" / "synth").mkdir(parents=True, exist_ok=True)
                (root / "imgs" / path).write_bytes(b"png")
    (root / "reid_raw.json").write_text(json.dumps(records), encoding="utf-8")
    return records


def test_ingest_counts_and_idempotent(tmp_path):
    make_dataset(tmp_path / "data")
    with Workspace.open(tmp_path / "ws") as ws:
        first = ingest_dataset(ws, tmp_path / "data")
        assert (first.captions.added, first.captions.unchanged) == (12, 0)
        assert [(s.split, s.images, s.captions, s.persons, s.missing_images) for s in first.splits] == [
            ("train", 4, 8, 2, 0), ("test", 2, 4, 1, 0),
        ]
        again = ingest_dataset(ws, tmp_path / "data")
        assert (again.captions.added, again.captions.updated, again.captions.unchanged) == (0, 0, 12)
        assert len(ws.captions()) == 12
    assert sqlite3.connect(tmp_path / "ws" / "tipr.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_changed_caption_is_updated(tmp_path):
    records = make_dataset(tmp_path / "data")
    with Workspace.open(tmp_path / "ws") as ws:
        ingest_dataset(ws, tmp_path / "data")
        records[0]["captions"][0] = "A changed caption."
        (tmp_path / "data" / "reid_raw.json").write_text(json.dumps(records), encoding="utf-8")
        report = ingest_dataset(ws, tmp_path / "data")
        assert (report.captions.added, report.captions.updated) == (0, 1)
        assert ws.captions(split="train")[0].text == "A changed caption."


def test_missing_images_stop_ingest_without_writing(tmp_path):
    make_dataset(tmp_path / "data", with_images=False)
    with Workspace.open(tmp_path / "ws") as ws:
        with pytest.raises(UserError, match="6 of 6 images are missing .* pass --images"):
            ingest_dataset(ws, tmp_path / "data")
        assert ws.captions() == []


def test_translations_join_history_and_qa(tmp_path):
    make_dataset(tmp_path / "data")
    with Workspace.open(tmp_path / "ws") as ws:
        ingest_dataset(ws, tmp_path / "data")
        key = ws.captions(split="test")[0].key
        t = Translation(key, "zh", "第一", "openai", "m", "ldat", "a" * 64, {"temperature": 0})
        ws.put_translations([t])
        ws.put_translations([Translation(key, "zh", "第二", "openai", "m", "glossary", "b" * 64, round=1)])
        zh = ws.captions(split="test", lang="zh")
        assert [(c.key, c.lang, c.text) for c in zh] == [(key, "zh", "第二")]
        assert [h.text for h in ws.translation_history(key, "zh")] == ["第一"]
        colour = Reason(ReasonKind.ATTRIBUTE, "colour of coat: grey -> red", term="coat")
        ws.put_qa([QARecord(key, "zh", verdict="flagged", reasons=(colour,), round=0)])
        assert ws.qa("zh")[key].reasons == (colour,)  # typed reasons survive the round trip
        ws.put_qa([QARecord(key, "zh", verdict="ok", round=1)])
        assert ws.qa("zh")[key].verdict == "ok"
        assert ws.languages() == ["en", "zh"]
        summary = {(r["dataset"], r["split"]): r for r in ws.summary()}
        assert summary[("cuhk-pedes", "test")]["languages"]["zh"]["ok"] == 1


def test_results_round_trip(tmp_path):
    with Workspace.open(tmp_path / "ws") as ws:
        ws.add_result(EvalResult("bi-irra", "cuhk-pedes", "zh", "zh", "test", "t2i", {"R1": 50.0}))
        assert ws.results()[0].metrics == {"R1": 50.0}


def test_failed_transaction_writes_nothing(tmp_path):
    with Workspace.open(tmp_path / "ws") as ws:
        with pytest.raises(RuntimeError):
            with ws.transaction():
                ws.add_result(EvalResult("m", "d", "en", "en", "test", "t2i", {}))
                raise RuntimeError("killed")
        assert ws.results() == []
