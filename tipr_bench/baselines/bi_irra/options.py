"""What a training run is asked for, checked as a whole before any data is read or model built."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tipr_bench.baselines.bi_irra.config import RERANK_K, get_config
from tipr_bench.core.devices import check_device
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language

SELECTIONS = ("val", "test")
OWN_OPTIONS = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr"}  # config fields with an option


@dataclass
class TrainOptions:
    lang: str  # the target language; normalised here ("ZH", "ch" -> "zh")
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
    test_rerank_k: int = RERANK_K  # also what --select-on test re-ranks with, as the reference selects
    max_steps: int | None = None  # stop after this many optimizer steps (smoke tests)
    threads: int | None = None  # CPU threads for torch; 1 is fastest on a busy shared machine

    def __post_init__(self) -> None:
        """Every option checked before any data is read or model built: one line each."""
        self.lang = get_language(self.lang).code
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
        for name in OWN_OPTIONS.keys() & self.settings.keys():
            raise UserError(f"--set {name}=...: {name} has its own option; pass {OWN_OPTIONS[name]} instead")
        self.init = None if self.init is None else Path(self.init)
        self.xlmr = None if self.xlmr is None else Path(self.xlmr)
        if self.init is not None and not self.init.is_file():
            raise UserError(f"--init {self.init} does not exist; pass a CCLM-X2VLM or Bi-IRRA checkpoint file")
        if self.xlmr is not None and not self.xlmr.is_dir():
            raise UserError(f"--xlmr {self.xlmr} is not a folder; pass a local XLM-R Hugging Face folder")

    def config_overrides(self) -> dict:
        """The config fields these options set (None: the config's own value), `--set` ones included."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, **self.settings}
