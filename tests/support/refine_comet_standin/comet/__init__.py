"""A stand-in for unbabel-comet's two entry points, so the CometKiwi worker's process protocol
(JSONL in, JSON scores out, exit codes) is tested where the real package (GBs, clashing pins) is not
installed. Its "model" scores a pair by the share of source words echoed in the translation."""

from __future__ import annotations

from pathlib import Path


class _Output:
    def __init__(self, scores: list[float]):
        self.scores = scores
        self.system_score = sum(scores) / len(scores) if scores else 0.0


class _Model:
    def __init__(self, path: str):
        self.path = path

    def predict(self, data, batch_size=16, gpus=0, progress_bar=True):
        scores = []
        for pair in data:
            words = pair["src"].lower().split()
            scores.append(sum(w in pair["mt"].lower() for w in words) / max(1, len(words)))
        return _Output(scores)


def load_from_checkpoint(path: str) -> _Model:
    if not Path(path).is_file():
        raise FileNotFoundError(path)
    return _Model(path)
