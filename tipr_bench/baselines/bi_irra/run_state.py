"""Where a training run stands, what last.pt stores of it and a resume restores, and the writing of the
run's checkpoints: last.pt (with every rank's RNG state, so a resume continues mid-epoch exactly),
best.pt and, under selection on test, best-en.pt."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra.processes import Processes
from tipr_bench.baselines.bi_irra.run_log import EpochLog
from tipr_bench.baselines.bi_irra.run_plan import RunPlan
from tipr_bench.baselines.bi_irra.schedule import WarmupCosine


def no_partial() -> dict:
    """The part of an epoch done before a resume, when there is none."""
    return {"sums": {}, "seen": 0, "seconds": 0.0}


@dataclass
class RunState:
    start_epoch: int = 0  # 0-based: the first epoch this process trains
    skip: int = 0  # batches of start_epoch done before a resume
    best: dict[str, float] = field(default_factory=lambda: {"tg": -1.0, "en": -1.0})  # best R@1: target, English
    history: list[EpochLog] = field(default_factory=list)
    carried: dict = field(default_factory=no_partial)  # the loss sums, images and seconds of the skipped batches


def restore(resumed: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: WarmupCosine,
            processes: Processes, n_batches: int, last: Path, notes: list[str]) -> RunState:
    """Puts last.pt's weights, optimizer, schedule and this rank's RNG state back; where the run stands."""
    model.load_state_dict(resumed["model"])
    optimizer.load_state_dict(resumed["optimizer"])
    schedule.load_state_dict(resumed["schedule"])
    states = resumed.get("rng_ranks") or [resumed["rng"]]
    if len(states) == processes.world:
        ckpt.set_rng_state(states[processes.rank])
    else:
        notes.append(f"resumed on {processes.world} processes after {len(states)}: random streams restart")
    state = RunState(start_epoch=resumed["epoch"], skip=resumed.get("batches_done", n_batches),
                     best=resumed.get("best", {"tg": resumed["best_score"], "en": -1.0}),
                     history=[EpochLog(**e) for e in resumed["history"]])
    if state.skip >= n_batches:
        state.start_epoch, state.skip = state.start_epoch + 1, 0
        notes.append(f"resumed from {last} after epoch {state.start_epoch}")
    else:
        state.carried = resumed["partial"]
        state.history = [h for h in state.history if h.epoch != state.start_epoch + 1]
        notes.append(f"resumed from {last} in epoch {state.start_epoch + 1} after {state.skip} of {n_batches} batches")
    return state


class RunCheckpoints:
    """Writes last.pt (every rank takes part, the main process writes) and, on the main process, best.pt
    for the best target-language R@1 and best-en.pt for the best English one under selection on test."""

    def __init__(self, plan: RunPlan, lang: str, processes: Processes, model: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, schedule: WarmupCosine, state: RunState):
        self.files, self.selection, self.val_split = plan.files, plan.selection, plan.val_split
        self.processes, self.model, self.optimizer, self.schedule, self.state = (
            processes, model, optimizer, schedule, state)
        self.common = {"model_name": ckpt.MODEL, "lang": lang, "dataset": plan.dataset,
                       "config": plan.config.to_dict(), "tokenizer": plan.tokenizer.spec(),
                       "selection": plan.selection}

    def save_last(self, epoch: int, batches_done: int, partial: dict) -> None:
        rngs = self.processes.rng_states()  # every rank takes part
        if self.processes.main:
            best = self.state.best
            ckpt.save(self.files.last, {
                **self.common, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "rng": rngs[0], "rng_ranks": rngs, "epoch": epoch,
                "batches_done": batches_done, "partial": partial, "best": best, "best_score": best["tg"],
                "history": [vars(h) for h in self.state.history],
            })

    def keep_best(self, epoch: int, val: dict[str, float]) -> None:
        """Writes best.pt (and best-en.pt) when this epoch's scores beat the best so far."""
        best = self.state.best
        if val["R1"] > best["tg"]:
            best["tg"] = val["R1"]
            ckpt.save(self.files.best, {**self.common, "model": self.model.state_dict(), "epoch": epoch,
                                        "val": val, "val_split": self.val_split})
        if self.selection == "test" and val.get("en_R1", -1.0) > best["en"]:
            best["en"] = val["en_R1"]
            ckpt.save(self.files.best_en, {**self.common, "model": self.model.state_dict(), "epoch": epoch,
                                           "val": val, "val_split": self.val_split, "selected_for": "en"})
