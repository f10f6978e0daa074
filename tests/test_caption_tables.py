"""pandas: tipr_bench.open_release, Workspace.frame and the leaderboard as DataFrames; and the real
`datasets` and `mlcroissant` libraries opening a local release (its card's configs, its croissant.json)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

import tipr_bench
from tests.support.release_workspace import build_workspace
from tipr_bench.benchmark.manifest import IntegrityError
from tipr_bench.benchmark.store_results import EvalResult
from tipr_bench.core.errors import UserError
from tipr_bench.release import export_release


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("frames")
    with build_workspace(root / "ws") as ws:
        return export_release(ws, "m", "1.0.0", root / "out").path


def counts(release: Path) -> dict:
    return json.loads((release / "MANIFEST.json").read_text())["counts"]


def test_open_release_gives_every_row_of_every_language_and_split(release):
    df = tipr_bench.open_release(release)
    assert isinstance(df, pd.DataFrame)
    by = df.groupby(["lang", "split"]).size().to_dict()
    assert by == {(lang, split): n for lang, splits in counts(release).items() for split, n in splits.items() if n}
    assert df["person_id"].dtype == "int64" and df["key"].is_unique is False  # a key repeats once per language
    zh_test = tipr_bench.open_release(release, lang="zh", split="test")
    assert len(zh_test) == counts(release)["zh"]["test"] and set(zh_test["lang"]) == {"zh"}
    assert zh_test["text"].str.startswith("一个").all()


def test_open_release_refuses_a_changed_file_and_unknown_names(release, tmp_path):
    with pytest.raises(UserError, match="its languages: de, en, fr, zh"):
        tipr_bench.open_release(release, lang="ja")
    with pytest.raises(UserError, match="its splits: test, train"):
        tipr_bench.open_release(release, split="val")
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(release, copy)
    (copy / "data" / "de" / "train.parquet").write_bytes(b"changed")
    with pytest.raises(IntegrityError, match="not intact"):
        tipr_bench.open_release(copy)
    assert len(tipr_bench.open_release(copy, lang="zh", verify=False)) == sum(counts(release)["zh"].values())


def test_workspace_frame_and_leaderboard_frame(tmp_path):
    with build_workspace(tmp_path / "ws") as ws:
        empty = tipr_bench.leaderboard_frame(ws.results())
        assert empty.empty and {"model", "query_lang", "R1", "mAP"} <= set(empty.columns)
        en = ws.frame()
        fr = ws.frame(lang="fr", split="train")
        assert len(en) == 28 and list(en.columns)[:8] == ["key", "dataset", "split", "person_id", "image_path",
                                                          "caption_index", "lang", "text"]
        assert set(fr["split"]) == {"train"} and fr["status"].value_counts().to_dict() == {
            "ok": 14, "flagged": 1, "failed": 1}
        assert set(fr["model"]) == {"llama-3-8b-instruct"} and set(fr["provenance"]) == {"machine"}
        for when, r1 in (("2026-01-01T00:00:00+00:00", 40.0), ("2026-01-02T00:00:00+00:00", 50.0)):
            ws.add_result(EvalResult("bi-irra", "cuhk-pedes", "zh", "zh", "test", "t2i",
                                     {"R1": r1, "R5": 70.0, "R10": 80.0, "mAP": 45.0, "mINP": 30.0},
                                     created_at=when))
        board = tipr_bench.leaderboard_frame(ws.results())
    assert len(board) == 1 and board.loc[0, "R1"] == 50.0 and board.loc[0, "model"] == "bi-irra"  # the latest


def test_datasets_loads_a_local_release_per_language(release, tmp_path):
    datasets = pytest.importorskip("datasets")
    for lang in ("zh", "en", "de"):
        loaded = datasets.load_dataset(str(release), lang, cache_dir=str(tmp_path / "hf-datasets"))
        assert {split: loaded[split].num_rows for split in loaded} == {
            split: n for split, n in counts(release)[lang].items() if n}
    zh = datasets.load_dataset(str(release), "zh", cache_dir=str(tmp_path / "hf-datasets"))
    assert zh["test"][0]["lang"] == "zh" and zh["test"][0]["key"].startswith("cuhk-pedes/")


def test_mlcroissant_validates_with_no_warning_and_loads_records(release, caplog):
    mlc = pytest.importorskip("mlcroissant")
    with caplog.at_level(logging.WARNING):
        dataset = mlc.Dataset(jsonld=str(release / "croissant.json"))
    assert not dataset.metadata.ctx.issues.warnings and not dataset.metadata.ctx.issues.errors
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    records = list(dataset.records("captions-zh-test"))
    assert len(records) == counts(release)["zh"]["test"]
    assert records[0]["captions-zh-test/text"].decode().startswith("一个")
    assert dataset.metadata.date_published is not None
