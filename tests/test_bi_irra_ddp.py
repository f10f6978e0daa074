"""Bi-IRRA under DistributedDataParallel for real: 2 processes, gloo on CPU, the micro config.

Checks that the ITC loss sees the whole global batch (features gathered across ranks) and that its
gradient, averaged as DDP averages, equals one process's on the same global batch; that both ranks
end with identical weights and losses close to the single-process run (A-ITM draws its hard
negatives and MLM averages within each rank's share, as the reference does); and that
`torchrun --nproc-per-node 2 tipr-bench train` stopped inside an epoch and resumed ends with exactly
the weights of an uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tests.support import bi_irra_ddp as ddp
from tests.support.bi_irra_sample import build_workspace
from tipr_bench.baselines.bi_irra import checkpoint as ckpt

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    mp.start_processes(ddp.worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    torch.set_num_threads(1)
    torch.manual_seed(100)
    model = ddp.fresh_model()
    single = {"itc_grad": ddp.itc_gradient(model, ddp.global_batch()),
              **ddp.train_steps(model, model, ddp.global_batch())}

    for name, grad in single["itc_grad"].items():  # the gathered ITC, its gradient as one process's
        assert torch.allclose(ranks[0]["itc_grad"][name], grad, atol=1e-6, rtol=1e-4), name
    first = [r["losses"][0] for r in ranks]
    assert first[0]["itc"] == pytest.approx(single["losses"][0]["itc"], abs=1e-5)
    assert first[1]["itc"] == pytest.approx(first[0]["itc"], abs=1e-6)  # every rank: the whole batch
    assert (first[0]["mim"] + first[1]["mim"]) / 2 == pytest.approx(single["losses"][0]["mim"], abs=1e-5)
    for step in range(ddp.STEPS):
        mean = sum(r["losses"][step]["loss"] for r in ranks) / 2
        assert mean == pytest.approx(single["losses"][step]["loss"], rel=0.02)
    for name, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][name]), name


def _tipr_bench() -> str:
    return shutil.which("tipr-bench", path=str(Path(sys.executable).parent)) or "tipr-bench"


def _torchrun(ws: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               _tipr_bench(), "train", "--lang", "zh", "--config", "tiny", "--epochs", "1", "--batch-size", "8",
               "--device", "cpu", "--threads", "1", "--no-test", "--json", "-w", str(ws), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)


def test_torchrun_training_resumed_mid_epoch_ends_as_an_uninterrupted_run(tmp_path):
    for name in ("whole", "resumed"):
        build_workspace(tmp_path / name, persons=10).close()
    whole = _torchrun(tmp_path / "whole" / "ws")
    assert whole.returncode == 0, whole.stderr[-3000:]
    stopped = _torchrun(tmp_path / "resumed" / "ws", "--max-steps", "2")
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    run = ckpt.run_dir(tmp_path / "resumed" / "ws", "zh", "synth", "tiny")
    place = ckpt.load(run / "last.pt")
    assert (place["epoch"], place["batches_done"], len(place["rng_ranks"])) == (0, 2, 2)
    resumed = _torchrun(tmp_path / "resumed" / "ws", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "after 2 of 3 batches" in resumed.stdout

    a = ckpt.load(ckpt.run_dir(tmp_path / "whole" / "ws", "zh", "synth", "tiny") / "last.pt")
    b = ckpt.load(run / "last.pt")
    assert a["schedule"]["step_count"] == b["schedule"]["step_count"] == 3
    for name, value in a["model"].items():
        assert torch.equal(value, b["model"][name]), name
