"""Why the demo trains beside refine: on this machine's cores, what one thread keeps of two, for the
translator and for the tiny Bi-IRRA training, and what each keeps when both run at once on one core each.

1. decode: N demo captions (100-person sample, seed 0) into Chinese with the demo's translator and
   few-shot prompt, at 2 threads then 1;
2. train: the tiny config for E epochs in a child process (demo_training), at 2 threads then 1, over
   the same sample with its English captions copied as the target language (time only; nothing learned
   from it is reported);
3. both at once: training on 1 thread in its child while this process decodes passes on 1 thread.
Printed: seconds, the 1-thread share of 2-thread speed, the slowdown of each beside the other, and the
same work one after the other (2 threads each) against side by side.

    .venv/bin/python bench/core_split.py [--captions 64] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from tipr_bench.benchmark.ingest import ingest_dataset
from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.demo import DEMO_PARAMS, DemoOptions
from tipr_bench.demo_training import BackgroundTraining, TrainingJob
from tipr_bench.sample import generate_sample
from tipr_bench.translate import build_backend
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.prompts import PRESETS


def workspace(folder: Path) -> tuple[Path, list[str]]:
    generate_sample(folder / "sample", persons=100, seed=0, progress=False)
    ws = Workspace.open(folder / "ws")
    try:
        ingest_dataset(ws, folder / "sample", "cuhk-pedes")
        english = [c for split in ("train", "val", "test") for c in ws.captions("cuhk-pedes", split, lang="en")]
        ws.put_translations(Translation(c.key, "zh", c.text, backend="copy", model="english", prompt_id="copy",
                                        prompt_sha256="0" * 64) for c in english)
        return folder / "ws", [c.text for c in english]
    finally:
        ws.close()


def train(ws: Path, epochs: int, threads: int) -> BackgroundTraining:
    return BackgroundTraining(TrainingJob(ws, "zh", epochs=epochs, seed=0, threads=threads))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    ws, captions = workspace(Path(tempfile.mkdtemp(prefix="tipr-core-split-")))
    backend = build_backend(DemoOptions(lang="zh").backend.with_(device="cpu"))
    prompt = PRESETS["fewshot"]
    conversations = [prompt.render(s, "zh") for s in captions[:args.captions]]
    params = DecodingParams(max_tokens=DEMO_PARAMS.max_tokens, stop=prompt.stop)
    backend.complete_batch(conversations[:4], DecodingParams(max_tokens=2))

    def decode(threads: int) -> float:
        torch.set_num_threads(threads)
        started = time.perf_counter()
        backend.complete_batch(conversations, params)
        return time.perf_counter() - started

    print(f"cores {len(os.sched_getaffinity(0))}, load {os.getloadavg()[0]:.1f}; {args.captions} captions, "
          f"{args.epochs} epochs", flush=True)
    d2, d1 = decode(2), decode(1)
    t2, t1 = train(ws, args.epochs, 2).result().seconds, train(ws, args.epochs, 1).result().seconds
    beside, passes, started = train(ws, args.epochs, 1), 0, time.perf_counter()
    while beside.running():  # the demo's case: refine goes on for as long as training does
        decode(1)
        passes += 1
    both = time.perf_counter() - started
    t_beside = beside.result().seconds
    d_beside = both / passes
    print(f"decode {args.captions} captions: 2 threads {d2:6.1f} s, 1 thread {d1:6.1f} s (one thread keeps "
          f"{d2 / d1:.0%}); 1 thread beside training {d_beside:6.1f} s a pass (x{d_beside / d1:.2f})")
    print(f"train {args.epochs} epochs: 2 threads {t2:6.1f} s, 1 thread {t1:6.1f} s (one thread keeps "
          f"{t2 / t1:.0%}); 1 thread beside decoding {t_beside:6.1f} s (x{t_beside / t1:.2f})")
    after = passes * d2 + t2
    print(f"the same work ({passes} decode passes + training): one after the other on 2 threads {after:.1f} s, "
          f"side by side on one core each {both:.1f} s: x{after / both:.2f}  (load {os.getloadavg()[0]:.1f})")

if __name__ == "__main__":
    main()
