"""Evaluation of a split: which captions are the queries and which images the gallery, reading and
checking a submission against them, computing the metrics and storing every result.

A submission is judged against the workspace's own split, so a number on the leaderboard always
means the same queries and the same gallery. Anything a user can get wrong in a submission file
is refused with one line that says what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tipr_bench.baselines.bi_irra.config import RERANK_K
from tipr_bench.baselines.eval_request import EvalRequest
from tipr_bench.baselines.metrics import (
    feature_retrieval_metrics,
    l2_normalise,
    retrieval_metrics,
    transposed_retrieval_metrics,
)
from tipr_bench.baselines.submission import (
    load_embeddings,
    load_similarity,
    must_exist,
)
from tipr_bench.baselines.usable_captions import split_captions
from tipr_bench.benchmark.store import Workspace
from tipr_bench.benchmark.store_results import EvalResult
from tipr_bench.core.clock import utc_now
from tipr_bench.core.devices import resolve_device
from tipr_bench.core.errors import UserError

DIRECTIONS = ("t2i", "i2t")


@dataclass(frozen=True)
class SplitData:
    """Queries = the split's captions in `lang`; gallery = the split's unique images (first seen order
    of the captions, i.e. by person id then path), as the field's evaluators build them."""

    dataset: str
    split: str
    lang: str
    query_keys: list[str]
    query_texts: list[str]
    query_pids: np.ndarray
    gallery_paths: list[str]
    gallery_pids: np.ndarray
    image_root: Path
    left_out: int  # captions of the split with no usable text in `lang` (none, failed or empty)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.split} ({self.lang})"


@dataclass(frozen=True)
class Outcome:
    """One evaluation: metrics per direction, and what was stored."""

    model: str
    dataset: str
    split: str
    query_lang: str
    train_lang: str
    metrics: dict[str, dict[str, float]]  # direction -> {"R1", "R5", "R10", "mAP", "mINP"}
    checkpoint_sha256: str
    n_queries: int
    n_gallery: int
    created_at: str
    left_out: int = 0  # captions of the split left out of the queries for want of a usable translation
    selection: str = ""  # what chose the checkpoint's epoch ("val", "test"; "" for a submission)
    stored: bool = True  # False: the workspace is read-only, so the result was shown, not kept


def load_split(ws: Workspace, dataset: str, split: str, lang: str) -> SplitData:
    info = ws.dataset(dataset)
    if info is None:
        known = ", ".join(d.slug for d in ws.datasets()) or "none yet"
        raise UserError(
            f"dataset {dataset!r} is not in workspace {ws.root} (ingested: {known}); "
            f"run `tipr-bench ingest --dataset {dataset} --root PATH` first"
        )
    split_caps = split_captions(ws, dataset, split, lang)
    english, captions = split_caps.english, split_caps.usable
    if not english:
        splits = ", ".join(s for d, s in ws.splits(dataset)) or "none"
        raise UserError(f"{dataset} has no {split!r} split in {ws.root} (splits: {splits}); pick one with --split")
    if not captions:
        raise UserError(
            f"no usable {lang} captions for {dataset}/{split} in {ws.root}; "
            f"run `tipr-bench translate --lang {lang} --dataset {dataset}` first"
        )
    gallery: dict[str, int] = {}
    for c in english:
        pid = gallery.setdefault(c.image_path, c.person_id)
        if pid != c.person_id:
            raise UserError(
                f"{dataset}/{split}: image {c.image_path} has person ids {pid} and {c.person_id}; "
                "fix the annotation file and ingest again"
            )
    return SplitData(
        dataset=dataset, split=split, lang=lang,
        query_keys=[c.key for c in captions], query_texts=[c.text for c in captions],
        query_pids=np.array([c.person_id for c in captions], dtype=np.int64),
        gallery_paths=list(gallery), gallery_pids=np.array(list(gallery.values()), dtype=np.int64),
        image_root=Path(info.image_root), left_out=split_caps.left_out,
    )


# -- metrics --------------------------------------------------------------------------------------


def evaluate_similarity(
    similarity: np.ndarray | torch.Tensor,
    query_pids: Sequence | np.ndarray,
    gallery_pids: Sequence | np.ndarray,
    *,
    directions: Sequence[str] = ("t2i",),
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Metrics of a text-to-image similarity matrix [captions x images], per direction;
    image-to-text ranks the captions for each image (the same matrix, transposed)."""
    out = {}
    for direction in _check_directions(directions):
        if direction == "t2i":
            out[direction] = retrieval_metrics(
                similarity, query_pids, gallery_pids, chunk_size=chunk_size, device=device, progress=progress)
        else:
            out[direction] = transposed_retrieval_metrics(
                similarity, gallery_pids, query_pids, chunk_size=chunk_size, device=device, progress=progress)
    return out


def evaluate_features(
    text_feats: np.ndarray | torch.Tensor,
    image_feats: np.ndarray | torch.Tensor,
    text_pids: Sequence | np.ndarray,
    image_pids: Sequence | np.ndarray,
    *,
    directions: Sequence[str] = ("t2i",),
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    normalised: bool = False,
) -> dict[str, dict[str, float]]:
    """Metrics from features (cosine similarity of L2-normalised rows), one chunk of rows at a time;
    `normalised`: the rows are unit length already."""
    out = {}
    for direction in _check_directions(directions):
        queries, gallery, q_pids, g_pids = (
            (text_feats, image_feats, text_pids, image_pids) if direction == "t2i"
            else (image_feats, text_feats, image_pids, text_pids)
        )
        out[direction] = feature_retrieval_metrics(
            queries, gallery, q_pids, g_pids, chunk_size=chunk_size, device=device, progress=progress,
            normalised=normalised)
    return out


def _check_directions(directions: Sequence[str]) -> tuple[str, ...]:
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad or not directions:
        raise UserError(f"unknown direction {bad[0] if bad else '(none)'!r}: use t2i, i2t or both")
    return tuple(dict.fromkeys(directions))


def align(split: SplitData, source: Path, query_keys: Sequence[str], gallery_paths: Sequence[str]
          ) -> tuple[np.ndarray, np.ndarray]:
    """Person ids for the submission's rows (captions) and columns (images), after checking that the
    submission covers exactly the split's queries and gallery."""
    _same_set(source, "caption keys", query_keys, split.query_keys, split,
              "embed every caption of the split, keyed `{dataset}/{image_path}#{caption_index}`")
    _same_set(source, "image paths", gallery_paths, split.gallery_paths, split,
              "embed every image of the split, with its path as the annotation file gives it")
    q_pid = dict(zip(split.query_keys, split.query_pids.tolist(), strict=True))
    g_pid = dict(zip(split.gallery_paths, split.gallery_pids.tolist(), strict=True))
    return (np.array([q_pid[k] for k in query_keys], dtype=np.int64),
            np.array([g_pid[p] for p in gallery_paths], dtype=np.int64))


# -- running and storing --------------------------------------------------------------------------


def evaluate(ws: Workspace, request: EvalRequest) -> Outcome:
    """Scores what the request names on its split (of the workspace's only dataset when it names none)
    and stores the result."""
    common = {"dataset": request.dataset or only_dataset(ws), "split": request.split, "lang": request.lang,
              "directions": request.directions, "device": request.device, "progress": request.progress}
    if request.embeddings is not None:
        return evaluate_embeddings(ws, request.embeddings, model=request.model,
                                   train_lang=request.train_lang or "", **common)
    if request.similarity is not None:
        return evaluate_similarity_file(ws, request.similarity, request.query_keys, request.gallery_paths,
                                        model=request.model, train_lang=request.train_lang or "", **common)
    return evaluate_bi_irra(ws, checkpoint=request.checkpoint, **common)


def only_dataset(ws: Workspace) -> str:
    slugs = [d.slug for d in ws.datasets()]
    if len(slugs) == 1:
        return slugs[0]
    raise UserError(f"--dataset is needed: the workspace {ws.root} holds "
                    f"{', '.join(slugs) if slugs else 'no dataset'}")


def evaluate_embeddings(
    ws: Workspace, path: str | Path, *, dataset: str, split: str, lang: str, model: str | None = None,
    train_lang: str = "", directions: Sequence[str] = ("t2i",), device: str | None = None,
    progress: bool = False,
) -> Outcome:
    """Check an .npz submission against the split, compute its metrics and store them."""
    directions = _check_directions(directions)
    data = load_split(ws, dataset, split, lang)
    sub = load_embeddings(path)
    q_pids, g_pids = align(data, sub.path, sub.text_keys, sub.image_paths)
    text, image = (l2_normalise(torch.from_numpy(f), in_place=True) for f in (sub.text_feats, sub.image_feats))
    metrics = evaluate_features(text, image, q_pids, g_pids, directions=directions, device=_device(device),
                                progress=progress, normalised=True)  # the loaded features are ours: scaled in place
    return record(ws, model or sub.path.stem, data, train_lang, metrics, sub.sha256)


def evaluate_similarity_file(
    ws: Workspace, path: str | Path, query_keys: str | Path, gallery_paths: str | Path, *, dataset: str,
    split: str, lang: str, model: str | None = None, train_lang: str = "",
    directions: Sequence[str] = ("t2i",), device: str | None = None, progress: bool = False,
) -> Outcome:
    """Check a similarity-matrix submission against the split, compute its metrics and store them."""
    directions = _check_directions(directions)
    data = load_split(ws, dataset, split, lang)
    sub = load_similarity(path, query_keys, gallery_paths)
    q_pids, g_pids = align(data, sub.path, sub.query_keys, sub.gallery_paths)
    metrics = evaluate_similarity(sub.similarity, q_pids, g_pids, directions=directions,
                                  device=_device(device), progress=progress)
    return record(ws, model or sub.path.stem, data, train_lang, metrics, sub.sha256)


def evaluate_bi_irra(
    ws: Workspace, *, dataset: str, split: str, lang: str, checkpoint: Path | None = None,
    device: str = "auto", rerank_k: int = RERANK_K, directions: Sequence[str] = ("t2i",), progress: bool = True,
) -> Outcome:
    """Score the split with a Bi-IRRA checkpoint (None = the workspace's latest) and store the metrics.

    Text-to-image only: Bi-IRRA re-ranks each caption's top images with its matching head, so the
    scores of one column are not comparable across captions and an image-to-text ranking of them
    would not be the model's."""
    directions = _check_directions(directions)
    if directions != ("t2i",):
        raise UserError("bi-irra is evaluated text-to-image only (its re-ranking is per caption); "
                        "use --direction t2i")
    if checkpoint is not None:
        must_exist(Path(checkpoint), "checkpoint")
    from tipr_bench.baselines.bi_irra.inference import score_split  # heavy: torch models

    data = load_split(ws, dataset, split, lang)
    scored = score_split(ws, dataset=dataset, split=split, lang=lang, checkpoint=checkpoint, device=device,
                         rerank_k=rerank_k, progress=progress)
    metrics = evaluate_similarity(scored.similarity, scored.query_pids, scored.gallery_pids,
                                  directions=directions, progress=progress)
    return record(ws, "bi-irra", data, scored.train_lang, metrics, scored.checkpoint_sha256,
                  n_queries=len(scored.query_keys), n_gallery=len(scored.gallery_paths), selection=scored.selection)


def record(
    ws: Workspace, model: str, data: SplitData, train_lang: str, metrics: dict[str, dict[str, float]],
    checkpoint_sha256: str, *, n_queries: int | None = None, n_gallery: int | None = None, selection: str = "",
) -> Outcome:
    """Store one result per direction (one transaction), with how many queries it scored, against how
    many images, how many captions it left out and what chose the epoch; describe what was stored.
    A read-only workspace cannot keep it: the outcome says so, and scoring still works."""
    created_at = utc_now()
    n_queries = len(data.query_keys) if n_queries is None else n_queries
    n_gallery = len(data.gallery_paths) if n_gallery is None else n_gallery
    if not ws.read_only:
        with ws.transaction():
            for direction, values in metrics.items():
                ws.add_result(EvalResult(
                    model=model, dataset=data.dataset, query_lang=data.lang, train_lang=train_lang,
                    split=data.split, direction=direction, metrics=values, checkpoint_sha256=checkpoint_sha256,
                    created_at=created_at, n_queries=n_queries, n_gallery=n_gallery, n_left_out=data.left_out,
                    selection=selection,
                ))
    return Outcome(
        model=model, dataset=data.dataset, split=data.split, query_lang=data.lang, train_lang=train_lang,
        metrics=metrics, checkpoint_sha256=checkpoint_sha256, n_queries=n_queries, n_gallery=n_gallery,
        created_at=created_at, left_out=data.left_out, selection=selection, stored=not ws.read_only,
    )


# -- checks ---------------------------------------------------------------------------------------


def _device(device: str | None) -> torch.device | None:
    """The device to rank on; None: the CPU, picked by `auto` (the ranking's own default path)."""
    resolved = resolve_device(device or "auto")
    return None if resolved.type == "cpu" and device in (None, "auto") else resolved


def _same_set(source: Path, what: str, given: Sequence[str], expected: Sequence[str], split: SplitData,
              fix: str) -> None:
    given_set, expected_set = set(given), set(expected)
    missing = [k for k in expected if k not in given_set]
    extra = [k for k in given if k not in expected_set]
    if missing:
        raise UserError(f"{source}: {len(missing)} of the {len(expected)} {what} of {split.name} are missing, "
                        f"e.g. {missing[0]!r}; {fix}")
    if extra:
        raise UserError(f"{source}: {len(extra)} {what} are not in {split.name}, e.g. {extra[0]!r}; "
                        f"remove them (another split or language, or a caption with no usable translation?)")
