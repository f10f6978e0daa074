"""Train Bi-IRRA on a workspace dataset for one target language.

One process or many (torchrun sets WORLD_SIZE/RANK/LOCAL_RANK). The batch size is global: each
global batch of one shared seeded permutation is split evenly over the ranks and the ITC loss gathers
features from all of them, so any number of processes takes the same steps on the same data.
Mixed precision is bf16 autocast on CUDA. `last.pt` is written atomically at every epoch end and,
with `save_every`, every N optimizer steps inside an epoch, with every rank's RNG state, so a resume
continues mid-epoch exactly where the run stopped. The epoch kept in `best.pt` is chosen on val
(the default) or, with select_on="test", as the reference does: best on test, per query language.
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
    load_model,
    metrics,
    score_loaded,
)
from tipr_bench.baselines.bi_irra.keymap import load_into, position_convention, read_state_dict
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.baselines.bi_irra.schedule import WarmupCosine
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.baselines.queries import split_captions
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.devices import check_device, resolve_device, use_cpu_threads
from tipr_bench.core.errors import UserError
from tipr_bench.core.progress import make_progress

NO_DECAY_NAMES = ("cls_token", "mask_token", "pos_embed", "temp", "relative_position_bias_table")
SELECTIONS = ("val", "test")


@dataclass
class TrainOptions:
    lang: str
    dataset: str | None = None
    config: str = "tiny"
    init: Path | None = None
    xlmr: Path | None = None
    epochs: int | None = None
    batch_size: int | None = None  # global, over all processes
    lr: float | None = None
    settings: dict = field(default_factory=dict)  # other config fields (`--set FIELD=VALUE`)
    select_on: str = "val"  # "val", or "test": the reference's protocol (best epoch on test, per language)
    save_every: int | None = None  # also write last.pt every N optimizer steps inside an epoch
    device: str = "auto"
    amp: bool = True
    accum: int = 1
    resume: bool = False
    seed: int = 0
    comet: bool = False
    workers: int = 0
    progress: bool = True
    test: bool = True
    test_rerank_k: int = 256  # also what --select-on test re-ranks with, as the reference selects
    max_steps: int | None = None  # stop after this many optimizer steps (smoke tests)
    threads: int | None = None  # CPU threads for torch; 1 is fastest on a busy shared machine

    def __post_init__(self) -> None:
        """Every option checked before any data is read or model built: one line each."""
        if self.lang == "en":
            raise UserError("--lang en: Bi-IRRA pairs English with a target language; pass --lang zh (or fr, de, ...)")
        get_config(self.config)  # an unknown config name is refused here
        check_device(self.device)
        for option, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size), ("--accum", self.accum),
                              ("--save-every", self.save_every), ("--max-steps", self.max_steps),
                              ("--threads", self.threads)):
            if value is not None and value < 1:
                raise UserError(f"{option} {value}: must be 1 or more")
        if self.workers < 0:
            raise UserError(f"--workers {self.workers}: must be 0 (load in this process) or more")
        if self.lr is not None and not self.lr > 0:
            raise UserError(f"--lr {self.lr}: a learning rate must be positive, e.g. 5e-5")
        if self.select_on not in SELECTIONS:
            raise UserError(f"--select-on {self.select_on}: use val (the default) or test (the reference's protocol)")
        if self.init is not None and not Path(self.init).is_file():
            raise UserError(f"--init {self.init} does not exist; pass a CCLM-X2VLM or Bi-IRRA checkpoint file")
        if self.xlmr is not None and not Path(self.xlmr).is_dir():
            raise UserError(f"--xlmr {self.xlmr} is not a folder; pass a local XLM-R Hugging Face folder")


@dataclass
class EpochLog:
    epoch: int
    loss: float
    parts: dict[str, float]
    val: dict[str, float]
    lr: float
    seconds: float
    images_per_s: float
    measured_on: str = ""  # the split `val` was measured on: "test" where the dataset has no val split


@dataclass
class TrainResult:
    best: Path
    last: Path
    dataset: str
    val_split: str
    selection: str  # what chose best.pt's epoch: "val" or "test"
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
    slugs = ws.datasets_with(lang)
    if len(slugs) == 1:
        return slugs[0]
    if not slugs:
        raise UserError(f"no dataset in {ws.root} has {lang} translations; run `tipr-bench translate --lang {lang}`")
    raise UserError(f"several datasets have {lang} translations ({', '.join(slugs)}); pick one with --dataset")


def pick_val_split(ws: Workspace, dataset: str, lang: str, select_on: str) -> str:
    """The split that chooses the epoch: val, or test when asked (or when there is no val split)."""
    for split in ("val", "test") if select_on == "val" else ("test",):
        if split_captions(ws, dataset, split, lang).usable:
            return split
    raise UserError(f"{dataset} has no usable {select_on} captions in {lang}; ingest and translate that split")


def decay_split(model: torch.nn.Module, rule: str = "reference") -> tuple[list[str], list[str]]:
    """(decayed, exempt) parameter names. "reference" (misc/build.py build_optimizer): no decay for
    0/1-d tensors (LayerNorms, layer scales, the temperature) and for every name containing 'bias',
    which takes in BEiT's relative_position_bias_table and q_bias/v_bias; decay on everything else,
    cls/mask tokens and the text position table included. "matrices": also no decay on those tokens
    and tables."""
    decay, exempt = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        free = param.ndim < 2 or "bias" in name
        if rule == "matrices":
            free = free or name.endswith(NO_DECAY_NAMES)
        (exempt if free else decay).append(name)
    return decay, exempt


def param_groups(model: torch.nn.Module, weight_decay: float, rule: str = "reference") -> list[dict]:
    """AdamW groups by `decay_split`."""
    params = dict(model.named_parameters())
    decay, exempt = decay_split(model, rule)
    return [{"params": [params[n] for n in decay], "weight_decay": weight_decay},
            {"params": [params[n] for n in exempt], "weight_decay": 0.0}]


def check_global_batch(batch_size: int, world: int, rank_batch: int = 0) -> None:
    """The global batch splits evenly over the processes, and each share into whole reference ranks."""
    if batch_size % world or batch_size // world < 2:
        raise UserError(f"--batch-size {batch_size} is global: it must split evenly over {world} processes "
                        f"with 2+ each; pick a multiple of {world}")
    share = batch_size // world
    if rank_batch and share % rank_batch:
        raise UserError(
            f"--batch-size {batch_size} over {world} processes gives {share} each, not a multiple of rank_batch "
            f"{rank_batch} (the reference's per-GPU batch, within which negatives and image masks are drawn); "
            f"pick --batch-size {world * rank_batch * max(1, share // rank_batch)} or --set rank_batch=N with N "
            f"dividing {share} (docs/FIDELITY.md says what that changes)")


def all_rng_states(world: int) -> list[dict]:
    """Every rank's RNG state (a collective call: every rank must make it)."""
    mine = ckpt.rng_state()
    if world == 1:
        return [mine]
    states: list = [None] * world
    dist.all_gather_object(states, mine)
    return states


def _set_threads(threads: int | None, device: torch.device, notes: list[str]) -> None:
    chosen = use_cpu_threads(device, threads)
    if not threads and chosen is not None and chosen < (os.cpu_count() or 1):
        notes.append(f"CPU already busy: training with {chosen} thread(s); set --threads to override")


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
    rank, local_rank, world = _distributed()
    if opts.batch_size is not None:
        check_global_batch(opts.batch_size, world)  # before any data is read or tokenizer trained
    device = resolve_device(opts.device)
    notes: list[str] = []
    _set_threads(opts.threads, device, notes)
    dataset = pick_dataset(ws, opts.dataset, opts.lang)
    if not opts.resume:  # the settings and the batch's split into reference ranks, before any data is read
        planned = get_config(opts.config, dataset).with_overrides(batch_size=opts.batch_size, **opts.settings)
        check_global_batch(planned.batch_size, world, planned.rank_batch)
    out_dir = ckpt.run_dir(ws.root, opts.lang, dataset, opts.config)
    last_path, best_path, best_en_path = out_dir / "last.pt", out_dir / "best.pt", out_dir / "best-en.pt"

    resume_state = ckpt.load(last_path) if opts.resume and last_path.is_file() else None
    if opts.resume and resume_state is None:
        raise UserError(f"--resume: no {last_path} yet; start without --resume")
    loaded = load_pairs(ws, dataset, "train", opts.lang)
    train_pairs = loaded.pairs
    if loaded.left_out:
        notes.append(f"{loaded.left_out} train captions have no usable {opts.lang} translation and are left out")
    init_state = read_state_dict(Path(opts.init)) if opts.init is not None and resume_state is None else None
    if resume_state is not None:
        # the stored config wins; only --epochs may change (the cosine then stretches to the new end)
        config = BiIrraConfig.from_dict(resume_state["config"]).with_overrides(epochs=opts.epochs)
        tokenizer = Tokenizer.from_spec(resume_state["tokenizer"])
        select_on = resume_state.get("selection", "val")
    else:
        config = get_config(opts.config, dataset).with_overrides(
            epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr, **opts.settings)
        if "position_ids" not in opts.settings:
            config = config.with_overrides(
                position_ids=position_convention(init_state, config.text_layers, opts.xlmr is not None))
        if opts.xlmr is not None:
            tokenizer = Tokenizer.from_xlmr_folder(Path(opts.xlmr))
        else:
            tokenizer = Tokenizer.train([t for p in train_pairs for t in (p.en, p.tg)], config.sp_vocab_size)
        config = config.with_overrides(vocab_size=tokenizer.vocab_size)
        select_on = opts.select_on
    check_global_batch(config.batch_size, world, config.rank_batch)
    val_split = pick_val_split(ws, dataset, opts.lang, select_on)
    selection = "test" if val_split == "test" else "val"
    if select_on == "val" and selection == "test":
        notes.append(f"{dataset} has no val split in {opts.lang}: selecting the best epoch on test")
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    main = rank == 0
    seed_everything(opts.seed + rank)

    model = BiIRRA(config, Path(opts.xlmr) if opts.xlmr and resume_state is None else None)
    if init_state is not None:
        report = load_into(model, init_state, config.text_layers)
        notes.append(f"--init {opts.init}: {report.summary()}; positions {config.position_ids}")
    model.place(device)

    dataset_obj = PairDataset(train_pairs, tokenizer, config, opts.seed)

    def batches_of(epoch: int) -> list[list[int]]:
        return epoch_batches(len(train_pairs), config.batch_size, opts.seed, epoch, rank, world, config.drop_last)

    n_batches = len(batches_of(0))
    if n_batches == 0:
        raise UserError(f"{len(train_pairs)} training pairs give no full batch of {config.batch_size}; "
                        "lower --batch-size or add data")
    steps_per_epoch = math.ceil(n_batches / opts.accum)
    # fused on CPU: one kernel over all parameters instead of a loop of small ops (the tiny config's step)
    optimizer = torch.optim.AdamW(param_groups(model, config.weight_decay, config.weight_decay_on), lr=config.lr,
                                  betas=config.betas, eps=config.eps, fused=device.type == "cpu")
    schedule = WarmupCosine(optimizer, total=steps_per_epoch * config.epochs,
                            warmup=round(config.warmup_epochs * steps_per_epoch), lr=config.lr,
                            lr_start=config.lr_start, lr_end=config.lr_end)
    start_epoch, skip, best = 0, 0, {"tg": -1.0, "en": -1.0}
    history: list[EpochLog] = []
    carried = {"sums": {}, "seen": 0, "seconds": 0.0}  # the part of an epoch done before a resume
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        schedule.load_state_dict(resume_state["schedule"])
        states = resume_state.get("rng_ranks") or [resume_state["rng"]]
        if len(states) == world:
            ckpt.set_rng_state(states[rank])
        else:
            notes.append(f"resumed on {world} processes after {len(states)}: random streams restart")
        best = resume_state.get("best", {"tg": resume_state["best_score"], "en": -1.0})
        start_epoch, skip = resume_state["epoch"], resume_state.get("batches_done", n_batches)
        history = [EpochLog(**e) for e in resume_state["history"]]
        if skip >= n_batches:
            start_epoch, skip = start_epoch + 1, 0
            notes.append(f"resumed from {last_path} after epoch {start_epoch}")
        else:
            carried = resume_state["partial"]
            history = [h for h in history if h.epoch != start_epoch + 1]
            notes.append(f"resumed from {last_path} in epoch {start_epoch + 1} after {skip} of {n_batches} batches")

    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    use_amp = opts.amp and device.type == "cuda"
    comet = CometLogger(opts.comet and main, ws.root / "comet", {**config.to_dict(), "lang": opts.lang,
                                                                  "dataset": dataset, "world": world}, notes)
    payload_base = {"model_name": ckpt.MODEL, "lang": opts.lang, "dataset": dataset,
                    "config": config.to_dict(), "tokenizer": tokenizer.spec(), "selection": selection}
    steps_done = schedule.step_count
    # on test the reference picks the epoch by the very scores it reports: ITM re-ranked (k_test 256)
    selection_rerank_k = opts.test_rerank_k if selection == "test" else config.val_rerank_k
    lm = LoadedModel(model, tokenizer, config, opts.lang, best_path, "", selection)

    def save_last(epoch: int, batches_done: int, partial: dict) -> None:
        rngs = all_rng_states(world)  # every rank takes part
        if main:
            ckpt.save(last_path, {
                **payload_base, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "rng": rngs[0], "rng_ranks": rngs, "epoch": epoch,
                "batches_done": batches_done, "partial": partial, "best": best, "best_score": best["tg"],
                "history": [vars(h) for h in history],
            })

    with make_progress(opts.progress and main, unit="img", transient=False) as bar:
        for epoch in range(start_epoch, config.epochs):
            if opts.max_steps is not None and steps_done >= opts.max_steps:
                break
            t0 = time.perf_counter()
            model.train()
            dataset_obj.set_epoch(epoch)
            batches = batches_of(epoch)
            first = skip if epoch == start_epoch else 0
            sums, seen, before = (dict(carried["sums"]), carried["seen"], carried["seconds"]) if first else ({}, 0, 0.0)
            # its own generator: a loader draws a seed when iterated, which would shift the global
            # RNG stream (hard negatives, dropout) between a resumed and an uninterrupted run
            loader = torch.utils.data.DataLoader(
                dataset_obj, batch_sampler=batches[first:], num_workers=opts.workers,
                collate_fn=collate(tokenizer, config.rank_batch if config.image_mask_per == "batch" else None),
                generator=torch.Generator().manual_seed(opts.seed * 10007 + epoch))
            task = bar.add_task(f"epoch {epoch + 1}/{config.epochs}", total=sum(len(b) for b in batches),
                                completed=sum(len(b) for b in batches[:first]))
            done = first
            for batch in loader:
                batch = batch.to(device)
                boundary = (done + 1) % opts.accum == 0 or done + 1 == len(batches)
                sync = net.no_sync() if world > 1 and not boundary else nullcontext()
                with sync, torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    parts = net(batch)
                    (parts["loss"] / opts.accum).backward()
                if boundary:
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    schedule.step()
                    steps_done += 1
                done += 1
                for name, value in parts.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach()) * len(batch)
                seen += len(batch)
                bar.update(task, advance=len(batch),
                           description=f"epoch {epoch + 1}/{config.epochs} loss {sums['loss'] / seen:.3f}")
                stop = opts.max_steps is not None and steps_done >= opts.max_steps
                mid_epoch = done < len(batches)
                if boundary and mid_epoch and (stop or (opts.save_every and steps_done % opts.save_every == 0)):
                    save_last(epoch, done, {"sums": sums, "seen": seen,
                                            "seconds": before + time.perf_counter() - t0})
                if stop:
                    break
            train_seconds = before + time.perf_counter() - t0
            log = EpochLog(epoch + 1, sums["loss"] / seen, {k: v / seen for k, v in sums.items() if k != "loss"},
                           {}, schedule.lr, 0.0, seen * world / max(train_seconds, 1e-9), val_split)
            if main:
                log.val = _validate(ws, lm, dataset, val_split, opts.lang, device, selection_rerank_k)
                if log.val["R1"] > best["tg"]:
                    best["tg"] = log.val["R1"]
                    ckpt.save(best_path, {**payload_base, "model": model.state_dict(), "epoch": epoch,
                                          "val": log.val, "val_split": val_split})
                if selection == "test" and log.val.get("en_R1", -1.0) > best["en"]:
                    best["en"] = log.val["en_R1"]
                    ckpt.save(best_en_path, {**payload_base, "model": model.state_dict(), "epoch": epoch,
                                             "val": log.val, "val_split": val_split, "selected_for": "en"})
                log.seconds = before + time.perf_counter() - t0
                history.append(log)
            if done == len(batches):
                save_last(epoch, done, {"sums": {}, "seen": 0, "seconds": 0.0})
            if main:
                comet.log({"loss": log.loss, **{f"loss_{k}": v for k, v in log.parts.items()},
                           **{f"val_{k}": v for k, v in log.val.items()}, "lr": log.lr}, step=epoch + 1)
                if on_epoch:
                    on_epoch(log)
            if world > 1:
                dist.barrier()
    comet.close()
    result = TrainResult(best_path, last_path, dataset, val_split, selection, history, seconds=0.0, notes=notes)
    if main and opts.test and best_path.is_file():
        result.test = evaluate_best(ws, best_path, dataset, opts.lang, device, opts.test_rerank_k, opts.progress,
                                    best_en_path if selection == "test" else None)
    if world > 1:
        dist.destroy_process_group()
    result.seconds = time.perf_counter() - started
    return result


def _validate(ws: Workspace, lm: LoadedModel, dataset: str, split: str, lang: str, device: torch.device,
              rerank_k: int) -> dict[str, float]:
    """The selection split's metrics for target-language queries; on test (the reference's protocol,
    which picks an epoch per language) English queries' R@1 too, as en_R1."""
    scored = score_loaded(ws, lm, dataset=dataset, split=split, lang=lang, device=device, rerank_k=rerank_k,
                          progress=False)
    out = {**metrics(scored), "chance_R1": chance_r1(scored.query_pids, scored.gallery_pids)}
    if split == "test":
        english = score_loaded(ws, lm, dataset=dataset, split=split, lang="en", device=device, rerank_k=rerank_k,
                               progress=False)
        out["en_R1"] = metrics(english)["R1"]
    return out


def evaluate_best(ws: Workspace, best: Path, dataset: str, lang: str, device: torch.device, rerank_k: int,
                  progress: bool, best_en: Path | None = None) -> dict[str, dict[str, float]]:
    """Test-split metrics of the best checkpoint for English and target-language queries, with chance
    and counts. best_en: under the reference's protocol, English queries use the epoch chosen for them."""
    out = {}
    for query_lang in ("en", lang):
        if not split_captions(ws, dataset, "test", query_lang).usable:
            continue
        lm = load_model(best_en if query_lang == "en" and best_en is not None and best_en.is_file() else best, device)
        scored = score_loaded(ws, lm, dataset=dataset, split="test", lang=query_lang, device=device,
                              rerank_k=rerank_k, progress=progress)
        itc_only = score_loaded(ws, lm, dataset=dataset, split="test", lang=query_lang, device=device,
                                rerank_k=0, progress=False) if rerank_k else scored
        out[query_lang] = {**metrics(scored), "R1_itc": metrics(itc_only)["R1"],
                           "chance_R1": chance_r1(scored.query_pids, scored.gallery_pids),
                           "queries": len(scored.query_keys), "gallery": len(scored.gallery_paths),
                           "left_out": scored.left_out}
    return out
