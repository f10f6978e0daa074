"""Train Bi-IRRA on a workspace dataset for one target language.

One process or many (torchrun sets WORLD_SIZE/RANK/LOCAL_RANK). The batch size is global: each
global batch of one shared seeded permutation is split evenly over the ranks and the ITC loss gathers
features from all of them, so any number of processes takes the same steps on the same data.
Mixed precision is bf16 autocast on CUDA. `last.pt` is written atomically at every epoch end and,
with `save_every`, every N optimizer steps inside an epoch, with every rank's RNG state, so a resume
continues mid-epoch exactly where the run stopped. The epoch kept in `best.pt` is chosen on val
(the default) or, with select_on="test", as the reference does: best on test, per query language.

The parts, in the order a run uses them: options (what is asked), run_plan (what to train),
processes (torchrun), optimizer, run_state (resume, checkpoints), epoch (one epoch's steps),
validation (choosing the epoch, the final test) and run_log (what is reported).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from tipr_bench.baselines.bi_irra.data import PairDataset
from tipr_bench.baselines.bi_irra.epoch import EpochBatches, EpochTally, Learner, train_epoch
from tipr_bench.baselines.bi_irra.inference import LoadedModel
from tipr_bench.baselines.bi_irra.keymap import load_into
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.baselines.bi_irra.optimizer import build_optimizer
from tipr_bench.baselines.bi_irra.options import TrainOptions
from tipr_bench.baselines.bi_irra.processes import Processes, check_global_batch
from tipr_bench.baselines.bi_irra.run_log import CometLogger, EpochLog, TrainResult
from tipr_bench.baselines.bi_irra.run_plan import RunPlan, plan_run
from tipr_bench.baselines.bi_irra.run_state import RunCheckpoints, RunState, no_partial, restore
from tipr_bench.baselines.bi_irra.validation import evaluate_best, validate
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.devices import resolve_device, use_cpu_threads
from tipr_bench.core.errors import UserError
from tipr_bench.core.progress import make_progress

__all__ = ["EpochLog", "TrainOptions", "TrainResult", "train"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(ws: Workspace, opts: TrainOptions, on_epoch: Callable[[EpochLog], None] | None = None) -> TrainResult:
    started = time.perf_counter()
    processes = Processes.from_env()
    if opts.batch_size is not None:
        check_global_batch(opts.batch_size, processes.world)  # before any data is read or tokenizer trained
    device = resolve_device(opts.device)
    notes: list[str] = []
    _set_threads(opts.threads, device, notes)
    plan = plan_run(ws, opts, processes.world, notes)
    device = processes.join(device)
    seed_everything(opts.seed + processes.rank)
    model = _build_model(plan, opts, device, notes)
    history = _Run.start(ws, opts, plan, processes, device, model, notes).epochs(on_epoch)
    result = TrainResult(plan.files.best, plan.files.last, plan.dataset, plan.val_split, plan.selection, history,
                         seconds=0.0, notes=notes)
    if processes.main and opts.test and plan.files.best.is_file():
        result.test = evaluate_best(ws, plan.files.best, plan.dataset, opts.lang, device, opts.test_rerank_k,
                                    opts.progress, plan.files.best_en if plan.selection == "test" else None)
    processes.leave()
    result.seconds = time.perf_counter() - started
    return result


def _set_threads(threads: int | None, device: torch.device, notes: list[str]) -> None:
    chosen = use_cpu_threads(device, threads)
    if not threads and chosen is not None and chosen < (os.cpu_count() or 1):
        notes.append(f"CPU already busy: training with {chosen} thread(s); set --threads to override")


def _build_model(plan: RunPlan, opts: TrainOptions, device: torch.device, notes: list[str]) -> BiIRRA:
    """The model on its device: XLM-R's text weights and --init's on a fresh run (a resume loads last.pt later)."""
    model = BiIRRA(plan.config, opts.xlmr if plan.resumed is None else None)
    if plan.init_state is not None:
        report = load_into(model, plan.init_state, plan.config.text_layers)
        notes.append(f"--init {opts.init}: {report.summary()}; positions {plan.config.position_ids}")
    model.place(device)
    return model


@dataclass
class _Run:
    """A run from its model on: the data, the learner, where the run stands, and its checkpoints."""

    ws: Workspace
    opts: TrainOptions
    plan: RunPlan
    processes: Processes
    data: PairDataset
    batches_of: EpochBatches
    learner: Learner
    state: RunState
    checkpoints: RunCheckpoints
    comet: CometLogger
    scored_model: LoadedModel  # the model being trained, as validation scores it
    selection_rerank_k: int

    @classmethod
    def start(cls, ws: Workspace, opts: TrainOptions, plan: RunPlan, processes: Processes, device: torch.device,
              model: BiIRRA, notes: list[str]) -> _Run:
        """The training data, the optimizer and schedule, and where the run starts (after last.pt on a resume)."""
        data = PairDataset(plan.pairs, plan.tokenizer, plan.config, opts.seed)
        batches_of = EpochBatches(len(plan.pairs), plan.config, opts.seed, processes)
        n_batches = len(batches_of(0))
        if n_batches == 0:
            raise UserError(f"{len(plan.pairs)} training pairs give no full batch of {plan.config.batch_size}; "
                            "lower --batch-size or add data")
        optimizer, schedule = build_optimizer(model, plan.config, math.ceil(n_batches / opts.accum), device)
        state = RunState() if plan.resumed is None else restore(
            plan.resumed, model, optimizer, schedule, processes, n_batches, plan.files.last, notes)
        learner = Learner(model, processes.wrap(model, device), optimizer, schedule, device,
                          opts.amp and device.type == "cuda", opts.accum, processes.world,
                          steps_done=schedule.step_count)
        comet = CometLogger(opts.comet and processes.main, ws.root / "comet", {
            **plan.config.to_dict(), "lang": opts.lang, "dataset": plan.dataset, "world": processes.world}, notes)
        checkpoints = RunCheckpoints(plan, opts.lang, processes, model, optimizer, schedule, state)
        # on test the reference picks the epoch by the very scores it reports: ITM re-ranked (k_test 256)
        selection_rerank_k = opts.test_rerank_k if plan.selection == "test" else plan.config.val_rerank_k
        scored_model = LoadedModel(model, plan.tokenizer, plan.config, opts.lang, plan.files.best, "", plan.selection)
        return cls(ws, opts, plan, processes, data, batches_of, learner, state, checkpoints, comet, scored_model,
                   selection_rerank_k)

    def epochs(self, on_epoch: Callable[[EpochLog], None] | None) -> list[EpochLog]:
        """Trains the remaining epochs (up to opts.max_steps); the epoch logs, those before a resume included."""
        opts, config = self.opts, self.plan.config
        with make_progress(opts.progress and self.processes.main, unit="img", transient=False) as bar:
            for epoch in range(self.state.start_epoch, config.epochs):
                if opts.max_steps is not None and self.learner.steps_done >= opts.max_steps:
                    break
                tally = self._resumed_tally() if epoch == self.state.start_epoch else EpochTally({}, 0, 0, 0.0)
                self.learner.model.train()
                self.data.set_epoch(epoch)
                batches = self.batches_of(epoch)
                train_epoch(self.learner, self.data, self.plan.tokenizer, config, opts, epoch, batches, tally, bar,
                            self.checkpoints.save_last)
                self._end_epoch(epoch, tally, len(batches), on_epoch)
        self.comet.close()
        return self.state.history

    def _resumed_tally(self) -> EpochTally:
        """The first epoch's tally: what a resume carried of it, or nothing."""
        skip, carried = self.state.skip, self.state.carried
        if not skip:
            return EpochTally({}, 0, 0, 0.0)
        return EpochTally(dict(carried["sums"]), carried["seen"], skip, carried["seconds"])

    def _end_epoch(self, epoch: int, tally: EpochTally, n_batches: int,
                   on_epoch: Callable[[EpochLog], None] | None) -> None:
        """Validation and best.pt on the main process, last.pt after a whole epoch, then the reports."""
        log = tally.log(epoch, self.learner.schedule.lr, self.processes.world, self.plan.val_split)
        if self.processes.main:
            log.val = validate(self.ws, self.scored_model, self.plan.dataset, self.plan.val_split, self.opts.lang,
                               self.learner.device, self.selection_rerank_k)
            self.checkpoints.keep_best(epoch, log.val)
            log.seconds = tally.seconds()
            self.state.history.append(log)
        if tally.done == n_batches:
            self.checkpoints.save_last(epoch, tally.done, no_partial())
        if self.processes.main:
            self.comet.log_epoch(log)
            if on_epoch:
                on_epoch(log)
        self.processes.barrier()
