"""Score a split with a trained Bi-IRRA: global ITC similarity, then ITM re-ranking of each query's
top-k gallery images (k = 256 as published).

How scores combine is the config's `rerank_score`:

- "itm" (the reference's misc/eval.py): each of a query's top-k images gets the ITM head's raw
  "match" logit; every other image gets -100, so it ranks below the top-k in gallery order;
- "itc+itm": each of the top-k gets 3 + cos + p_match (cos its ITC cosine, p_match the ITM softmax
  probability of "match"); every other image keeps its cosine (in [-1, 1]). The top-k stay above
  the rest, ordered by cos + p_match, which keeps the ITC order where the ITM head is unsure (small
  models trained from scratch), and mAP/mINP outside the top-k keep the ITC order too.

rerank_k=0 gives pure ITC. Queries are the split's captions with a usable text (baselines/usable_captions.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import Progress

from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra.config import RERANK_K, BiIrraConfig
from tipr_bench.baselines.bi_irra.data import eval_image, image_root
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.baselines.metrics import retrieval_metrics
from tipr_bench.baselines.usable_captions import split_captions
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import sha256_file
from tipr_bench.core.devices import resolve_device, use_cpu_threads
from tipr_bench.core.errors import UserError
from tipr_bench.core.progress import make_progress

RERANK_OFFSET = 3.0
OUTSIDE_TOP_K = -100.0  # the reference's score for every image outside a query's top k


@dataclass
class ScoredSplit:
    similarity: torch.Tensor  # [Q, G] text-to-image, higher is better
    query_keys: list[str]
    query_pids: list[int]
    gallery_paths: list[str]
    gallery_pids: list[int]
    checkpoint_sha256: str
    train_lang: str
    checkpoint: Path
    left_out: int = 0  # captions of the split with no usable text in the query language
    selection: str = ""  # what chose the checkpoint's epoch ("val" or "test")


@dataclass
class LoadedModel:
    model: BiIRRA
    tokenizer: Tokenizer
    config: BiIrraConfig
    train_lang: str
    path: Path
    sha256: str
    selection: str = ""


def load_model(path: Path, device: torch.device) -> LoadedModel:
    payload = ckpt.load(path)
    config = BiIrraConfig.from_dict(payload["config"])
    model = BiIRRA(config)
    model.load_state_dict(payload["model"])
    model.place(device).eval()
    return LoadedModel(model, Tokenizer.from_spec(payload["tokenizer"]), config, payload["lang"], Path(path),
                       sha256_file(path), payload.get("selection", "val"))


def _autocast(device: torch.device, config: BiIrraConfig):
    """bf16 autocast only when the config asks for it (eval_precision "bf16"); the reference scores in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.eval_precision == "bf16")


def rerank_row(sim: torch.Tensor, top: torch.Tensor, itm_logits: torch.Tensor, how: str) -> torch.Tensor:
    """One query's scores after re-ranking its `top` candidates (see the module docstring)."""
    if how == "itm":
        out = torch.full_like(sim, OUTSIDE_TOP_K)
        out[top] = itm_logits[:, 1]
        return out
    out = sim.clone()
    out[top] = RERANK_OFFSET + sim[top] + itm_logits.softmax(dim=-1)[:, 1]
    return out


@torch.no_grad()
def encode_gallery(loaded: LoadedModel, paths: list[str], device: torch.device, progress: Progress | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(image tokens [G, 1+N, W], ITC features [G, E]) for every gallery image."""
    tokens, feats = [], []
    bs = loaded.config.eval_batch_size
    task = progress.add_task("gallery images", total=len(paths)) if progress else None
    for start in range(0, len(paths), bs):
        batch = torch.stack([eval_image(p, loaded.config) for p in paths[start:start + bs]])
        with _autocast(device, loaded.config):
            t = loaded.model.encode_image(batch.to(device))
        tokens.append(t)
        feats.append(loaded.model.image_features(t))
        if progress:
            progress.advance(task, len(batch))
    return torch.cat(tokens), torch.cat(feats)


@torch.no_grad()
def score_texts(loaded: LoadedModel, texts: list[str], target_lang: bool, image_tokens: torch.Tensor,
                image_feats: torch.Tensor, device: torch.device, rerank_k: int,
                progress: Progress | None = None) -> torch.Tensor:
    """[Q, G] scores: ITC similarity, top-k re-ranked with ITM (see the module docstring)."""
    cfg, model = loaded.config, loaded.model
    bs = cfg.eval_batch_size
    k = min(rerank_k, image_feats.shape[0])
    rows = []
    task = progress.add_task("queries", total=len(texts)) if progress else None
    for start in range(0, len(texts), bs):
        ids, att = loaded.tokenizer.encode(texts[start:start + bs], cfg.max_text_len)
        ids, att = ids.to(device), att.to(device)
        with _autocast(device, cfg):
            text_tokens = model.encode_text(ids, att)
        sim = (model.text_features(text_tokens, target_lang) @ image_feats.t()).float()
        if k > 0:
            top = sim.topk(k, dim=1).indices
            for q in range(sim.shape[0]):
                # pairs of one query with its k candidates, in chunks to bound memory
                logits = []
                for c in range(0, k, bs):
                    cand = top[q, c:c + bs]
                    n = cand.shape[0]
                    with _autocast(device, cfg):
                        logits.append(model.itm_logits(text_tokens[q:q + 1].expand(n, -1, -1),
                                                       att[q:q + 1].expand(n, -1), image_tokens[cand]).float())
                sim[q] = rerank_row(sim[q], top[q], torch.cat(logits), cfg.rerank_score)
        rows.append(sim.cpu())
        if progress:
            progress.advance(task, sim.shape[0])
    return torch.cat(rows)


def gallery_of(ws: Workspace, dataset: str, split: str) -> tuple[list[str], list[str], list[int]]:
    """Unique images of a split: (relative paths, absolute paths, person ids), in a stable order."""
    root = image_root(ws, dataset)
    seen: dict[str, int] = {}
    for c in ws.captions(dataset, split, "en"):
        seen.setdefault(c.image_path, c.person_id)
    rel = list(seen)
    return rel, [str(root / p) for p in rel], [seen[p] for p in rel]


def score_loaded(ws: Workspace, loaded: LoadedModel, *, dataset: str, split: str, lang: str, device: torch.device,
                 rerank_k: int = RERANK_K, progress: bool = True) -> ScoredSplit:
    captions = split_captions(ws, dataset, split, lang)
    queries = captions.usable
    if not queries:
        raise UserError(f"no usable {lang} captions for {dataset}/{split} in {ws.root}; translate or ingest them first")
    rel, paths, gpids = gallery_of(ws, dataset, split)
    loaded.model.place(device).eval()
    with make_progress(progress, unit="items") as bar:
        tokens, feats = encode_gallery(loaded, paths, device, bar)
        sim = score_texts(loaded, [q.text for q in queries], lang != "en", tokens, feats, device, rerank_k, bar)
    return ScoredSplit(sim, [q.key for q in queries], [q.person_id for q in queries], rel, gpids, loaded.sha256,
                       loaded.train_lang, loaded.path, captions.left_out, loaded.selection)


def score_split(ws: Workspace, *, dataset: str, split: str, lang: str, checkpoint: Path | None = None,
                device: str = "auto", rerank_k: int = RERANK_K, progress: bool = True) -> ScoredSplit:
    """Text-to-image scores of a split's `lang` captions against its unique images.

    checkpoint None -> the workspace's newest best checkpoint, preferring one trained for `lang`.
    """
    path = Path(checkpoint) if checkpoint is not None else ckpt.find_best(ws.root, lang)
    if path is None:
        raise UserError(f"no bi-irra checkpoint in {ws.root}; run `tipr-bench train --model bi-irra --lang {lang}`")
    dev = resolve_device(device)
    use_cpu_threads(dev)
    return score_loaded(ws, load_model(path, dev), dataset=dataset, split=split, lang=lang, device=dev,
                        rerank_k=rerank_k, progress=progress)


def chance_r1(query_pids: list[int], gallery_pids: list[int]) -> float:
    """R@1 of a random ranking, in percent: the mean share of gallery images showing the query's person."""
    counts: dict[int, int] = {}
    for pid in gallery_pids:
        counts[pid] = counts.get(pid, 0) + 1
    return 100.0 * sum(counts.get(p, 0) for p in query_pids) / (len(query_pids) * len(gallery_pids))


def scored_metrics(scored: ScoredSplit) -> dict[str, float]:
    """R1/R5/R10/mAP/mINP in percent, by the shared evaluator (baselines/metrics.py)."""
    return retrieval_metrics(scored.similarity, scored.query_pids, scored.gallery_pids)
