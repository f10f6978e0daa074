"""What a training run reports: one record per epoch, the run's result, and optional comet-ml logging."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


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

    def log_epoch(self, log: EpochLog) -> None:
        if self.experiment is not None:
            values = {"loss": log.loss, **{f"loss_{k}": v for k, v in log.parts.items()},
                      **{f"val_{k}": v for k, v in log.val.items()}, "lr": log.lr}
            self.experiment.log_metrics(values, step=log.epoch)

    def close(self) -> None:
        if self.experiment is not None:
            self.experiment.end()
