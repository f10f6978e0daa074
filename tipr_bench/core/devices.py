"""Which device a command computes on, and how many CPU threads it uses: one policy for translate,
refine, evaluate and Bi-IRRA.

A device is said as `auto` (a CUDA GPU when torch sees one, else the CPU), `cpu`, `cuda` or `cuda:N`.
The spelling is checked without torch (`check_device`), so a typo is refused before any model loads;
`resolve_device` then asks torch whether that GPU exists. torch is imported only there.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING

from tipr_bench.core.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
THREADS_ENV = "TIPR_BENCH_THREADS"


def check_device(spec: str, option: str = "--device") -> str:
    """The spelling of a device, checked without importing torch."""
    if not DEVICE_PATTERN.fullmatch(spec):
        raise UserError(f"{option} {spec!r}: use auto, cpu, cuda or cuda:N")
    return spec


def resolve_device(spec: str, option: str = "--device") -> torch.device:
    """`auto` picks a CUDA GPU when torch sees one, else the CPU; an explicit GPU must exist."""
    import torch

    check_device(spec, option)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(spec)
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{option} {spec} asked for a GPU but torch {torch.__version__} sees no CUDA device; "
                            f"use {option} cpu (or auto)")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise UserError(f"{option} {spec}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return chosen


def cpu_threads() -> int:
    """Threads for CPU work: `TIPR_BENCH_THREADS` if set, else the cores this process may use minus those
    other processes keep busy (the load average less this process's own share). Measured on 2 shared
    cores with a load of 6: 2 threads generated 10x slower than 1 (OpenMP threads spin waiting for each
    other when the cores are taken), and a Bi-IRRA training step 20x slower."""
    override = os.environ.get(THREADS_ENV, "").strip()
    if override:
        if not override.isdigit() or int(override) < 1:
            raise UserError(f"{THREADS_ENV}={override!r} must be a positive integer")
        return int(override)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    busy_elsewhere = max(0, round(load - _own_load()))
    return max(1, cores - busy_elsewhere)


_STARTED = (time.monotonic(), time.process_time())


def _own_load() -> float:
    """This process's share of the load average: the cores it kept busy since it started (the demo's
    translation counts against its own training otherwise), or 1 in its first seconds (the process
    that asks is about to run)."""
    wall = time.monotonic() - _STARTED[0]
    if wall < 30:
        return 1.0
    return max(1.0, (time.process_time() - _STARTED[1]) / wall)


def use_cpu_threads(device: torch.device, threads: int | None = None) -> int | None:
    """Set torch's thread count for CPU work (`threads`, else `cpu_threads()`); returns it, or None on a GPU."""
    import torch

    if device.type != "cpu":
        return None
    chosen = threads or cpu_threads()
    torch.set_num_threads(chosen)
    return chosen
