"""What `evaluate` is asked to score, checked whole before anything is read: a submission (.npz
embeddings, or a .npy similarity matrix with its key files) or the Bi-IRRA baseline's checkpoint.
Imports no torch, so a bad request is refused at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tipr_bench.core.devices import check_device
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language

DIRECTION_CHOICES = {"t2i": ("t2i",), "i2t": ("i2t",), "both": ("t2i", "i2t")}
BASELINE = "bi-irra"


@dataclass
class EvalRequest:
    lang: str  # the query language; normalised here ("ZH", "ch" -> "zh"), as is train_lang
    dataset: str | None = None  # None: the workspace's only dataset
    split: str | None = None  # None: test
    embeddings: Path | None = None
    similarity: Path | None = None
    query_keys: Path | None = None  # with similarity: each row's caption key
    gallery_paths: Path | None = None  # with similarity: each column's image path
    model: str | None = None  # the method's name on the leaderboard; "bi-irra" without a file runs the baseline
    checkpoint: Path | None = None  # with the baseline: None = the workspace's latest
    train_lang: str | None = None
    direction: str = "t2i"  # t2i, i2t or both
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        self.lang = get_language(self.lang).code
        if self.train_lang is not None:
            self.train_lang = get_language(self.train_lang).code
        if self.direction not in DIRECTION_CHOICES:
            raise UserError(f"--direction {self.direction!r}: use t2i, i2t or both")
        check_device(self.device)
        self.split = self.split or "test"
        if self.embeddings is not None and self.similarity is not None:
            raise UserError("give one submission: --embeddings FILE.npz or --similarity FILE.npy, not both")
        if self.similarity is not None and (self.query_keys is None or self.gallery_paths is None):
            raise UserError("--similarity needs --query-keys FILE.txt and --gallery-paths FILE.txt (one per line)")
        if self.submission is None and self.model != BASELINE:
            raise UserError("nothing to evaluate: pass --embeddings FILE.npz, --similarity FILE.npy "
                            f"(with --query-keys and --gallery-paths), or --model {BASELINE}")
        if self.checkpoint is not None and (self.submission is not None or self.model != BASELINE):
            raise UserError(f"--checkpoint goes with --model {BASELINE} (a submission file carries its own scores)")

    @property
    def submission(self) -> Path | None:
        """The submitted file; None: the baseline is scored."""
        return self.embeddings if self.embeddings is not None else self.similarity

    @property
    def directions(self) -> tuple[str, ...]:
        return DIRECTION_CHOICES[self.direction]
