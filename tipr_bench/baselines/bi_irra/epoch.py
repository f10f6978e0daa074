"""One training epoch: its batches, the optimizer steps with gradient accumulation, mixed precision and
DDP's gradient sync at step boundaries only, the running loss, and last.pt inside the epoch on request."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from rich.progress import Progress

from tipr_bench.baselines.bi_irra.config import BiIrraConfig
from tipr_bench.baselines.bi_irra.data import PairDataset, collate, epoch_batches
from tipr_bench.baselines.bi_irra.model import TrainBatch
from tipr_bench.baselines.bi_irra.options import TrainOptions
from tipr_bench.baselines.bi_irra.processes import Processes
from tipr_bench.baselines.bi_irra.run_log import EpochLog
from tipr_bench.baselines.bi_irra.schedule import WarmupCosine
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer


@dataclass
class Learner:
    """The model and what updates it; `net` is what a step calls (DDP around the model, or the model)."""

    model: torch.nn.Module
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: WarmupCosine
    device: torch.device
    amp: bool  # bf16 autocast (CUDA only)
    accum: int  # batches per optimizer step
    world: int
    steps_done: int = 0  # optimizer steps so far, over the whole run

    def step(self, batch: TrainBatch, boundary: bool) -> dict[str, torch.Tensor]:
        """Forward and backward of one batch, and the optimizer step at an accumulation boundary."""
        sync = self.net.no_sync() if self.world > 1 and not boundary else nullcontext()
        with sync, torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            parts = self.net(batch)
            (parts["loss"] / self.accum).backward()
        if boundary:
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.schedule.step()
            self.steps_done += 1
        return parts


@dataclass(frozen=True)
class EpochBatches:
    """This rank's batches of each epoch (data.epoch_batches with the run's fixed arguments)."""

    n_pairs: int
    config: BiIrraConfig
    seed: int
    processes: Processes

    def __call__(self, epoch: int) -> list[list[int]]:
        return epoch_batches(self.n_pairs, self.config.batch_size, self.seed, epoch, self.processes.rank,
                             self.processes.world, self.config.drop_last)


@dataclass
class EpochTally:
    """One epoch's loss sums (weighted by batch size), images seen and batches done; `before` is the
    time spent on it before a resume, so a resumed epoch reports its whole time."""

    sums: dict[str, float]
    seen: int
    done: int
    before: float
    started: float = field(default_factory=time.perf_counter)

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.started

    def partial(self) -> dict:
        """What last.pt stores of an unfinished epoch."""
        return {"sums": self.sums, "seen": self.seen, "seconds": self.seconds()}

    def log(self, epoch: int, lr: float, world: int, measured_on: str) -> EpochLog:
        """The epoch's record, its validation scores and wall time still to come."""
        return EpochLog(epoch + 1, self.sums["loss"] / self.seen,
                        {k: v / self.seen for k, v in self.sums.items() if k != "loss"}, {}, lr, 0.0,
                        self.seen * world / max(self.seconds(), 1e-9), measured_on)


def train_epoch(learner: Learner, data: PairDataset, tokenizer: Tokenizer, config: BiIrraConfig,
                opts: TrainOptions, epoch: int, batches: list[list[int]], tally: EpochTally, bar: Progress,
                save_last: Callable[[int, int, dict], None]) -> EpochTally:
    """Trains on `batches` from `tally.done` on (a resume skips those before); stops after
    opts.max_steps optimizer steps, writing last.pt there and every opts.save_every steps."""
    first = tally.done
    # its own generator: a loader draws a seed when iterated, which would shift the global
    # RNG stream (hard negatives, dropout) between a resumed and an uninterrupted run
    loader = torch.utils.data.DataLoader(
        data, batch_sampler=batches[first:], num_workers=opts.workers,
        collate_fn=collate(tokenizer, config.rank_batch if config.image_mask_per == "batch" else None),
        generator=torch.Generator().manual_seed(opts.seed * 10007 + epoch))
    task = bar.add_task(f"epoch {epoch + 1}/{config.epochs}", total=sum(len(b) for b in batches),
                        completed=sum(len(b) for b in batches[:first]))
    for batch in loader:
        batch = batch.to(learner.device)
        boundary = (tally.done + 1) % opts.accum == 0 or tally.done + 1 == len(batches)
        parts = learner.step(batch, boundary)
        tally.done += 1
        for name, value in parts.items():
            tally.sums[name] = tally.sums.get(name, 0.0) + float(value.detach()) * len(batch)
        tally.seen += len(batch)
        bar.update(task, advance=len(batch),
                   description=f"epoch {epoch + 1}/{config.epochs} loss {tally.sums['loss'] / tally.seen:.3f}")
        stop = opts.max_steps is not None and learner.steps_done >= opts.max_steps
        mid_epoch = tally.done < len(batches)
        if boundary and mid_epoch and (stop or (opts.save_every and learner.steps_done % opts.save_every == 0)):
            save_last(epoch, tally.done, tally.partial())
        if stop:
            break
    return tally
