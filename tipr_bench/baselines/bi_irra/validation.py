"""Scoring during and after training: each epoch on the split that picks the best one, and the best
checkpoint on test at the end."""

from __future__ import annotations

from pathlib import Path

import torch

from tipr_bench.baselines.bi_irra.inference import (
    LoadedModel,
    chance_r1,
    load_model,
    score_loaded,
    scored_metrics,
)
from tipr_bench.baselines.usable_captions import split_captions
from tipr_bench.benchmark.store import Workspace


def validate(ws: Workspace, loaded: LoadedModel, dataset: str, split: str, lang: str, device: torch.device,
             rerank_k: int) -> dict[str, float]:
    """The selection split's metrics for target-language queries; on test (the reference's protocol,
    which picks an epoch per language) English queries' R@1 too, as en_R1."""
    scored = score_loaded(ws, loaded, dataset=dataset, split=split, lang=lang, device=device, rerank_k=rerank_k,
                          progress=False)
    out = {**scored_metrics(scored), "chance_R1": chance_r1(scored.query_pids, scored.gallery_pids)}
    if split == "test":
        english = score_loaded(ws, loaded, dataset=dataset, split=split, lang="en", device=device, rerank_k=rerank_k,
                               progress=False)
        out["en_R1"] = scored_metrics(english)["R1"]
    return out


def evaluate_best(ws: Workspace, best: Path, dataset: str, lang: str, device: torch.device, rerank_k: int,
                  progress: bool, best_en: Path | None = None) -> dict[str, dict[str, float]]:
    """Test-split metrics of the best checkpoint for English and target-language queries, with chance
    and counts. best_en: under the reference's protocol, English queries use the epoch chosen for them."""
    out = {}
    for query_lang in ("en", lang):
        if not split_captions(ws, dataset, "test", query_lang).usable:
            continue
        english_epoch = query_lang == "en" and best_en is not None and best_en.is_file()
        loaded = load_model(best_en if english_epoch else best, device)
        scored = score_loaded(ws, loaded, dataset=dataset, split="test", lang=query_lang, device=device,
                              rerank_k=rerank_k, progress=progress)
        itc_only = score_loaded(ws, loaded, dataset=dataset, split="test", lang=query_lang, device=device,
                                rerank_k=0, progress=False) if rerank_k else scored
        out[query_lang] = {**scored_metrics(scored), "R1_itc": scored_metrics(itc_only)["R1"],
                           "chance_R1": chance_r1(scored.query_pids, scored.gallery_pids),
                           "queries": len(scored.query_keys), "gallery": len(scored.gallery_paths),
                           "left_out": scored.left_out}
    return out
