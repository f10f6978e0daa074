"""Score (source, translation) pairs with a CometKiwi checkpoint, in its own process.

unbabel-comet pins versions that clash with vllm, so tipr-bench never imports it: this file runs
under whichever interpreter has it (`--comet-python`), reads JSONL {"src", "mt"} and writes a JSON
list of scores. It uses only the standard library besides comet. Exit 3: comet missing; 4: bad model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_NO_COMET = 3
EXIT_BAD_MODEL = 4


def checkpoint_file(model: Path) -> Path | None:
    """A `.ckpt` file, or a downloaded model folder holding `checkpoints/model.ckpt`."""
    if model.is_file():
        return model
    for candidate in (model / "checkpoints" / "model.ckpt", *sorted(model.glob("**/*.ckpt"))):
        if candidate.is_file():
            return candidate
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 on a GPU, 16 on the CPU")
    parser.add_argument("--gpus", type=int, default=None)
    args = parser.parse_args()
    try:
        from comet import load_from_checkpoint
    except ImportError as exc:
        print(f"unbabel-comet is not importable in {sys.executable}: {exc}", file=sys.stderr)
        return EXIT_NO_COMET
    ckpt = checkpoint_file(args.model)
    if ckpt is None:
        print(f"no CometKiwi checkpoint (*.ckpt) at {args.model}", file=sys.stderr)
        return EXIT_BAD_MODEL
    data = [json.loads(line) for line in args.input.read_text(encoding="utf-8").splitlines() if line.strip()]
    model = load_from_checkpoint(str(ckpt))
    gpus = args.gpus
    if gpus is None:
        try:
            import torch

            gpus = 1 if torch.cuda.is_available() else 0
        except ImportError:
            gpus = 0
    batch_size = args.batch_size or (64 if gpus else 16)
    result = model.predict(data, batch_size=batch_size, gpus=gpus, progress_bar=False)
    scores = [float(s) for s in result.scores]
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(json.dumps(scores), encoding="utf-8")
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
