"""The demo's Bi-IRRA training, in a child process on one core while refine decodes on the others.

Training reads the train and val splits only, refine changes the test split only, so the two can run at
once. On 2 CPU cores both gain from it: one thread keeps 74-85% of tiny-config training's two-thread
speed and about 65% of the translator's (bench/core_split.py), so one core each does the pair's work
sooner than two cores each in turn; the translator takes the second core back when training ends
(`decode_threads`).

The child ignores Ctrl-C (the demo stops it and exits) and stops by itself at the end of an epoch
whose parent has gone (`kill -9`), so a rerun never trains beside an orphan.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.core.errors import UserError
from tipr_bench.core.progress import make_progress


@dataclass(frozen=True)
class TrainingJob:
    """What the child trains: the demo's options, said as plain values so they cross a process."""

    workspace: Path
    lang: str
    epochs: int
    seed: int
    threads: int


@dataclass(frozen=True)
class TrainingDone:
    best: Path
    epochs: int
    last_loss: float | None
    seconds: float


class BackgroundTraining:
    """A training run in a spawned child process; `running()` while it trains, `result()` waits for it."""

    def __init__(self, job: TrainingJob) -> None:
        context = multiprocessing.get_context("spawn")  # fork would copy the parent's torch thread pools
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_train_in_child, args=(job, send, os.getpid()),
                                        name="tipr-bench-demo-training", daemon=True)
        self.job = job
        self._process.start()
        send.close()
        self._outcome: TrainingDone | str | None = None

    def running(self) -> bool:
        return self._outcome is None and self._process.is_alive()

    def result(self, progress: bool = False) -> TrainingDone:
        """The finished run, with a bar of its epochs while it is still going; a failure in the child is
        one UserError line here."""
        if self._outcome is None:
            with make_progress(progress, unit="epochs") as bar:
                task = bar.add_task("train, beside refine until now", total=self.job.epochs)
                while self._outcome is None:
                    try:
                        message = self._receive.recv()
                    except EOFError:
                        self._process.join()
                        message = f"the training process exited with code {self._process.exitcode} and no result"
                    if isinstance(message, int):  # an epoch ended
                        bar.update(task, completed=message)
                    else:
                        self._outcome = message
            self._process.join()
        if isinstance(self._outcome, str):
            raise UserError(f"demo training failed: {self._outcome}")
        return self._outcome

    def stop(self) -> None:
        """Ends the child now (the demo is stopping on an error or Ctrl-C)."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


def decode_threads(training: BackgroundTraining, all_threads: int) -> Callable[[], int]:
    """Threads for each translation pass: one core stays with training while it runs, all come back after."""
    lent = max(1, all_threads - 1)
    return lambda: lent if training.running() else all_threads


def _train_in_child(job: TrainingJob, send, parent: int) -> None:
    started = time.perf_counter()  # the run's time includes importing torch: the parent waits for that too
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the whole group: the parent handles it
    from tipr_bench.baselines.bi_irra.train import TrainOptions, train
    from tipr_bench.benchmark.store import Workspace

    def epoch_done(log) -> None:
        if os.getppid() != parent:
            os._exit(1)  # orphaned by a kill -9: last.pt holds the finished epochs
        send.send(log.epoch)

    try:
        ws = Workspace.open(job.workspace, create=False)
        try:
            result = train(ws, TrainOptions(lang=job.lang, dataset="cuhk-pedes", config="tiny", epochs=job.epochs,
                                            progress=False, test=False, seed=job.seed, threads=job.threads),
                           on_epoch=epoch_done)
        finally:
            ws.close()
        last_loss = result.epochs[-1].loss if result.epochs else None
        outcome: TrainingDone | str = TrainingDone(result.best, len(result.epochs), last_loss,
                                                   time.perf_counter() - started)
    except UserError as exc:
        outcome = str(exc)
    except Exception as exc:  # noqa: BLE001 - the parent reports it as one line
        outcome = f"{type(exc).__name__}: {exc}"
    send.send(outcome)
    send.close()
