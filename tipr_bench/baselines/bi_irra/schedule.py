"""Bi-IRRA's learning-rate schedule: linear warm-up from lr_start to lr over the first epoch(s),
then a cosine down to lr_end at the last step. Stepped once per optimizer update."""

from __future__ import annotations

import math

import torch


def lr_at(step: int, *, total: int, warmup: int, lr: float, lr_start: float, lr_end: float) -> float:
    if warmup > 0 and step < warmup:
        return lr_start + (lr - lr_start) * step / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return lr_end + (lr - lr_end) * 0.5 * (1 + math.cos(math.pi * progress))


class WarmupCosine:
    def __init__(self, optimizer: torch.optim.Optimizer, *, total: int, warmup: int, lr: float,
                 lr_start: float, lr_end: float):
        self.optimizer = optimizer
        self.args = dict(total=total, warmup=warmup, lr=lr, lr_start=lr_start, lr_end=lr_end)
        self.step_count = 0
        self._apply()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step_count, **self.args)

    @property
    def lr(self) -> float:
        return lr_at(self.step_count, **self.args)

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, **self.args}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = state["step_count"]
        self._apply()
