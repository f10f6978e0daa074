"""Train Bi-IRRA on a workspace dataset for one target language.

One process or many (torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; each rank reads its slice of one
shared seeded permutation and the ITC loss gathers features from all ranks). Mixed precision is
bf16 autocast on CUDA; gradient accumulation, an atomic checkpoint per epoch (`last.pt`, resumable
at epoch boundaries) and the best validation epoch (`best.pt`) live under the workspace.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra.config import BiIrraConfig, get_config
from tipr_bench.baselines.bi_irra.data import PairDataset, collate, epoch_batches, load_pairs
from tipr_bench.baselines.bi_irra.inference import (
    LoadedModel,
    chance_r1,
    limit_threads_when_busy,
    load_model,
    metrics,
    resolve_device,
    score_loaded,
)
from tipr_bench.baselines.bi_irra.keymap import load_into, read_state_dict
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.baselines.bi_irra.schedule import WarmupCosine
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.benchmark.errors import UserError
from tipr_bench.benchmark.progress import make_progress
from tipr_bench.benchmark.store import Workspace

NO_DECAY_NAMES = ("cls_token", "mask_token", "pos_embed", "temp", "relative_position_bias_table")


@dataclass
class TrainOptions:
    lang: str
    dataset: str | None = None
    config: str = "tiny"
    init: Path | None = None
    xlmr: Path | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    device: str = "auto"
    amp: bool = True
    accum: int = 1
    resume: bool = False
    seed: int = 0
    comet: bool = False
    workers: int = 0
    progress: bool = True
    test: bool = True
    test_rerank_k: int = 256
    max_steps: int | None = None  # stop after this many optimizer steps (smoke tests)
    threads: int | None = None  # CPU threads for torch; 1 is fastest on a busy shared machine


@dataclass
class EpochLog:
    epoch: int
    loss: float
    parts: dict[str, float]
    val: dict[str, float]
    lr: float
    seconds: float
    images_per_s: float


@dataclass
class TrainResult:
    best: Path
    last: Path
    dataset: str
    val_split: str
    epochs: list[EpochLog] = field(default_factory=list)
    test: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# -- set-up helpers ---------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_dataset(ws: Workspace, dataset: str | None, lang: str) -> str:
    if dataset:
        return dataset
    slugs = sorted({row[0] for row in ws.conn.execute(
        "SELECT DISTINCT c.dataset FROM captions c JOIN translations t ON t.key = c.key AND t.lang = ?", (lang,))})
    if len(slugs) == 1:
        return slugs[0]
    if not slugs:
        raise UserError(f"no dataset in {ws.root} has {lang} translations; run `tipr-bench translate --lang {lang}`")
    raise UserError(f"several datasets have {lang} translations ({', '.join(slugs)}); pick one with --dataset")


def pick_val_split(ws: Workspace, dataset: str, lang: str) -> str:
    for split in ("val", "test"):
        if ws.captions(dataset, split, lang, limit=1):
            return split
    raise UserError(f"{dataset} has no val or test captions in {lang}; ingest and translate a val split")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or name.endswith(NO_DECAY_NAMES) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _set_threads(threads: int | None, device: torch.device, notes: list[str]) -> None:
    if threads:
        torch.set_num_threads(threads)
    elif limit_threads_when_busy(device):
        notes.append("CPU already busy (load >= cores): training with 1 thread; set --threads to override")


def _distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 0, 1
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world


class CometLogger:
    """Optional comet-ml logging: online with COMET_API_KEY, else offline files in the workspace."""

    def __init__(self, enabled: bool, folder: Path, params: dict, notes: list[str]):
        self.experiment = None
        if not enabled:
            return
        try:
            import comet_ml
        except ImportError:
            notes.append("comet-ml is not installed (pip install 'tipr-bench[tracking]'); logging skipped")
            return
        try:
            if not os.environ.get("COMET_API_KEY"):
                raise RuntimeError("no COMET_API_KEY")
            self.experiment = comet_ml.Experiment(project_name="tipr-bench")
        except Exception:  # no key or no network: keep the run, log offline
            folder.mkdir(parents=True, exist_ok=True)
            self.experiment = comet_ml.OfflineExperiment(project_name="tipr-bench", offline_directory=str(folder))
            notes.append(f"comet-ml offline: upload later from {folder}")
        self.experiment.log_parameters(params)

    def log(self, values: dict[str, float], step: int) -> None:
        if self.experiment is not None:
            self.experiment.log_metrics(values, step=step)

    def close(self) -> None:
        if self.experiment is not None:
            self.experiment.end()


# -- the run ----------------------------------------------------------------------------------


def train(ws: Workspace, opts: TrainOptions, on_epoch: Callable[[EpochLog], None] | None = None) -> TrainResult:
    started = time.perf_counter()
    if opts.lang == "en":
        raise UserError("--lang en: Bi-IRRA pairs English with a target language; pass --lang zh (or fr, de, ...)")
    if opts.accum < 1:
        raise UserError(f"--accum {opts.accum}: must be 1 or more")
    if opts.init is not None and not Path(opts.init).is_file():
        raise UserError(f"--init {opts.init} does not exist; pass a CCLM-X2VLM checkpoint file")
    if opts.xlmr is not None and not Path(opts.xlmr).is_dir():
        raise UserError(f"--xlmr {opts.xlmr} is not a folder; pass a local XLM-R Hugging Face folder")
    rank, local_rank, world = _distributed()
    device = resolve_device(opts.device)
    notes: list[str] = []
    _set_threads(opts.threads, device, notes)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    main = rank == 0
    dataset = pick_dataset(ws, opts.dataset, opts.lang)
    out_dir = ckpt.run_dir(ws.root, opts.lang, dataset, opts.config)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"

    resume_state = ckpt.load(last_path) if opts.resume and last_path.is_file() else None
    if opts.resume and resume_state is None:
        raise UserError(f"--resume: no {last_path} yet; start without --resume")
    train_pairs = load_pairs(ws, dataset, "train", opts.lang)
    if resume_state is not None:
        # the stored config wins; only --epochs may change (the cosine then stretches to the new end)
        config = BiIrraConfig.from_dict(resume_state["config"]).with_overrides(epochs=opts.epochs)
        tokenizer = Tokenizer.from_spec(resume_state["tokenizer"])
    else:
        config = get_config(opts.config).with_overrides(epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr)
        if opts.xlmr is not None:
            tokenizer = Tokenizer.from_xlmr_folder(Path(opts.xlmr))
        else:
            tokenizer = Tokenizer.train([t for p in train_pairs for t in (p.en, p.tg)], config.sp_vocab_size)
        config = config.with_overrides(vocab_size=tokenizer.vocab_size)
    seed_everything(opts.seed + rank)

    model = BiIRRA(config, Path(opts.xlmr) if opts.xlmr and resume_state is None else None)
    if opts.init is not None and resume_state is None:
        report = load_into(model, read_state_dict(Path(opts.init)), config.text_layers)
        notes.append(f"--init {opts.init}: {report.summary()}")
    model.to(device)

    dataset_obj = PairDataset(train_pairs, tokenizer, config, opts.seed)
    n_batches = len(epoch_batches(len(train_pairs), config.batch_size, opts.seed, 0, rank, world))
    if n_batches == 0:
        raise UserError(f"{len(train_pairs)} training pairs give no batch of 2+; lower --batch-size or add data")
    steps_per_epoch = math.ceil(n_batches / opts.accum)
    optimizer = torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr, betas=config.betas,
                                  eps=config.eps)
    schedule = WarmupCosine(optimizer, total=steps_per_epoch * config.epochs,
                            warmup=round(config.warmup_epochs * steps_per_epoch), lr=config.lr,
                            lr_start=config.lr_start, lr_end=config.lr_end)
    start_epoch, best_score, history = 0, -1.0, []
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        schedule.load_state_dict(resume_state["schedule"])
        ckpt.set_rng_state(resume_state["rng"])
        start_epoch, best_score = resume_state["epoch"] + 1, resume_state["best_score"]
        history = [EpochLog(**e) for e in resume_state["history"]]
        notes.append(f"resumed from {last_path} after epoch {resume_state['epoch'] + 1}")

    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    use_amp = opts.amp and device.type == "cuda"
    val_split = pick_val_split(ws, dataset, opts.lang)
    if val_split == "test":
        notes.append(f"{dataset} has no val split in {opts.lang}: selecting the best epoch on test")
    comet = CometLogger(opts.comet and main, ws.root / "comet", {**config.to_dict(), "lang": opts.lang,
                                                                  "dataset": dataset, "world": world}, notes)
    payload_base = {"model_name": ckpt.MODEL, "lang": opts.lang, "dataset": dataset,
                    "config": config.to_dict(), "tokenizer": tokenizer.spec()}
    steps_done = schedule.step_count
    lm = LoadedModel(model, tokenizer, config, opts.lang, best_path, "")

    with make_progress(opts.progress and main, unit="img", transient=False) as bar:
        for epoch in range(start_epoch, config.epochs):
            if opts.max_steps is not None and steps_done >= opts.max_steps:
                break
            t0 = time.perf_counter()
            model.train()
            dataset_obj.set_epoch(epoch)
            batches = epoch_batches(len(train_pairs), config.batch_size, opts.seed, epoch, rank, world)
            loader = torch.utils.data.DataLoader(dataset_obj, batch_sampler=batches, collate_fn=collate(tokenizer),
                                                 num_workers=opts.workers)
            task = bar.add_task(f"epoch {epoch + 1}/{config.epochs}", total=sum(len(b) for b in batches))
            sums: dict[str, float] = {}
            seen = 0
            for i, batch in enumerate(loader):
                batch = batch.to(device)
                boundary = (i + 1) % opts.accum == 0 or i + 1 == len(batches)
                sync = net.no_sync() if world > 1 and not boundary else nullcontext()
                with sync, torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    parts = net(batch)
                    (parts["loss"] / opts.accum).backward()
                if boundary:
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    schedule.step()
                    steps_done += 1
                for name, value in parts.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach()) * len(batch)
                seen += len(batch)
                bar.update(task, advance=len(batch),
                           description=f"epoch {epoch + 1}/{config.epochs} loss {sums['loss'] / seen:.3f}")
                if opts.max_steps is not None and steps_done >= opts.max_steps:
                    break
            train_seconds = time.perf_counter() - t0
            log = EpochLog(epoch + 1, sums["loss"] / seen, {k: v / seen for k, v in sums.items() if k != "loss"},
                           {}, schedule.lr, 0.0, seen * world / train_seconds)
            if main:
                scored = score_loaded(ws, lm, dataset=dataset, split=val_split, lang=opts.lang, device=device,
                                      rerank_k=config.val_rerank_k, progress=False)
                log.val = {**metrics(scored), "chance_R1": chance_r1(scored.query_pids, scored.gallery_pids)}
                if log.val["R1"] > best_score:
                    best_score = log.val["R1"]
                    ckpt.save(best_path, {**payload_base, "model": model.state_dict(), "epoch": epoch,
                                          "val": log.val, "val_split": val_split})
                log.seconds = time.perf_counter() - t0
                history.append(log)
                ckpt.save(last_path, {
                    **payload_base, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "rng": ckpt.rng_state(), "epoch": epoch,
                    "best_score": best_score, "history": [vars(h) for h in history],
                })
                comet.log({"loss": log.loss, **{f"loss_{k}": v for k, v in log.parts.items()},
                           **{f"val_{k}": v for k, v in log.val.items()}, "lr": log.lr}, step=epoch + 1)
                if on_epoch:
                    on_epoch(log)
            if world > 1:
                dist.barrier()
    comet.close()
    result = TrainResult(best_path, last_path, dataset, val_split, history, seconds=0.0, notes=notes)
    if main and opts.test and best_path.is_file():
        result.test = evaluate_best(ws, best_path, dataset, opts.lang, device, opts.test_rerank_k, opts.progress)
    if world > 1:
        dist.destroy_process_group()
    result.seconds = time.perf_counter() - started
    return result


def evaluate_best(ws: Workspace, best: Path, dataset: str, lang: str, device: torch.device, rerank_k: int,
                  progress: bool) -> dict[str, dict[str, float]]:
    """Test-split metrics of the best checkpoint for English and target-language queries, with chance."""
    lm = load_model(best, device)
    out = {}
    for query_lang in ("en", lang):
        if not ws.captions(dataset, "test", query_lang, limit=1):
            continue
        scored = score_loaded(ws, lm, dataset=dataset, split="test", lang=query_lang, device=device,
                              rerank_k=rerank_k, progress=progress)
        itc_only = score_loaded(ws, lm, dataset=dataset, split="test", lang=query_lang, device=device,
                                rerank_k=0, progress=False) if rerank_k else scored
        out[query_lang] = {**metrics(scored), "R1_itc": metrics(itc_only)["R1"],
                           "chance_R1": chance_r1(scored.query_pids, scored.gallery_pids),
                           "queries": len(scored.query_keys), "gallery": len(scored.gallery_paths)}
    return out
