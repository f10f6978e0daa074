"""Bi-IRRA checkpoints in the workspace: `<ws>/checkpoints/bi-irra/<lang>/<dataset>-<config>/`.

`last.pt` holds everything a resume needs (model, optimizer, schedule, RNG states, epoch, best
score); `best.pt` holds the model of the best validation epoch with its tokenizer and config, which
is all inference needs; `best-en.pt`, under selection on test, the epoch chosen for English queries.
Writes are atomic (temp file, fsync, rename), so a kill never leaves half a checkpoint.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tipr_bench.core.atomic import atomic_open
from tipr_bench.core.errors import UserError

MODEL = "bi-irra"


def run_dir(ws_root: Path, lang: str, dataset: str, config_name: str) -> Path:
    return Path(ws_root) / "checkpoints" / MODEL / lang / f"{dataset}-{config_name}"


@dataclass(frozen=True)
class RunFiles:
    """The checkpoints of one run (one language, dataset and config)."""

    last: Path
    best: Path
    best_en: Path

    @classmethod
    def of(cls, ws_root: Path, lang: str, dataset: str, config_name: str) -> RunFiles:
        folder = run_dir(ws_root, lang, dataset, config_name)
        return cls(folder / "last.pt", folder / "best.pt", folder / "best-en.pt")


def save(path: Path, payload: dict) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


def load(path: Path) -> dict:
    if not Path(path).is_file():
        raise UserError(f"checkpoint {path} does not exist; train one with `tipr-bench train --model bi-irra`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated or foreign file: say which one
        raise UserError(f"cannot read checkpoint {path}: {err}; it is not a bi-irra checkpoint") from None
    if not isinstance(payload, dict) or payload.get("model_name") != MODEL:
        raise UserError(f"{path} is not a bi-irra checkpoint (no model_name={MODEL!r}); pass one written by train")
    return payload


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def find_best(ws_root: Path, lang: str | None = None) -> Path | None:
    """The newest best.pt in the workspace, preferring one trained for `lang`."""
    base = Path(ws_root) / "checkpoints" / MODEL
    if lang is not None:
        mine = sorted(base.glob(f"{lang}/*/best.pt"), key=lambda p: p.stat().st_mtime)
        if mine:
            return mine[-1]
    every = sorted(base.glob("*/*/best.pt"), key=lambda p: p.stat().st_mtime)
    return every[-1] if every else None
