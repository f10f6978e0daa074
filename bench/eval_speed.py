"""How fast and how exact are tipr-bench's retrieval metrics? Prints figures; asserts nothing about time.

On random features of CUHK-PEDES size (6,156 text queries x 3,074 images, 1,000 ids) and
ICFG-PEDES size (19,848 x 19,848, 1,000 ids) it compares `retrieval_metrics` with a plain
reference written here the way the field's evaluators do it (full argsort of every row, a
[Q x G] match matrix with cumsums, and a per-query Python loop for mINP), and prints both
results, the largest difference and the speed ratio. The reference runs in row chunks only so
its index matrix fits in memory; that does not change its cost.

    .venv/bin/python bench/eval_speed.py            # both sizes
    .venv/bin/python bench/eval_speed.py --sizes cuhk
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from tipr_bench.baselines.metrics import feature_retrieval_metrics, retrieval_metrics, transposed_retrieval_metrics

# name, queries, gallery, ids, timed runs (the median is reported; one run of the slow reference is enough)
SIZES = {
    "cuhk": ("CUHK-PEDES", 6156, 3074, 1000, 3),
    "icfg": ("ICFG-PEDES", 19848, 19848, 1000, 1),
}
DIM = 512
KEYS = ("R1", "R5", "R10", "mAP", "mINP")


def reference_metrics(similarity: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, rows: int = 1024) -> dict:
    """Plain reference: full stable argsort (descending score, then gallery index), match matrix,
    cumsum precision for AP, per-query Python loop for INP."""
    n_q, n_g = similarity.shape
    hit1 = hit5 = hit10 = 0
    ap_total = inp_total = 0.0
    rank_positions = np.arange(1, n_g + 1, dtype=np.float64)
    for a in range(0, n_q, rows):
        order = np.argsort(-similarity[a:a + rows], axis=1, kind="stable")
        matches = g_pids[order] == q_pids[a:a + rows, None]
        hit1 += int(matches[:, :1].any(1).sum())
        hit5 += int(matches[:, :5].any(1).sum())
        hit10 += int(matches[:, :10].any(1).sum())
        found = matches.cumsum(1)
        precision_at_hits = (found / rank_positions) * matches
        ap_total += float((precision_at_hits.sum(1) / matches.sum(1)).sum())
        for i in range(matches.shape[0]):
            last = np.flatnonzero(matches[i])[-1]
            inp_total += found[i, last] / (last + 1.0)
    return {
        "R1": 100.0 * hit1 / n_q, "R5": 100.0 * hit5 / n_q, "R10": 100.0 * hit10 / n_q,
        "mAP": 100.0 * ap_total / n_q, "mINP": 100.0 * inp_total / n_q,
    }


def random_split(n_queries: int, n_images: int, n_ids: int, seed: int = 0):
    """Random features; every id owns at least one image and every image at least one caption
    (as in the datasets, so image-to-text has a positive for every image too)."""
    rng = np.random.default_rng(seed)
    g_pids = np.concatenate([np.arange(n_ids), rng.integers(0, n_ids, n_images - n_ids)])
    rng.shuffle(g_pids)
    image_of_query = np.concatenate([np.arange(n_images), rng.integers(0, n_images, n_queries - n_images)])
    q_pids = g_pids[rng.permutation(image_of_query)]
    text = rng.standard_normal((n_queries, DIM), dtype=np.float32)
    image = rng.standard_normal((n_images, DIM), dtype=np.float32)
    # Give the features some signal so the metrics are not all near zero.
    centres = rng.standard_normal((n_ids, DIM), dtype=np.float32)
    text += 0.35 * centres[q_pids]
    image += 0.35 * centres[g_pids]
    return text, image, q_pids, g_pids


def timed(fn, repeat: int = 1):
    """(value, median wall-clock seconds over `repeat` runs)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return value, statistics.median(times)


def fmt(metrics: dict) -> str:
    return "  ".join(f"{k} {metrics[k]:8.4f}" for k in KEYS)


def run(name: str, n_queries: int, n_images: int, n_ids: int, repeat: int) -> None:
    text, image, q_pids, g_pids = random_split(n_queries, n_images, n_ids)
    t, g = torch.from_numpy(text), torch.from_numpy(image)
    sim = (torch.nn.functional.normalize(t, dim=1) @ torch.nn.functional.normalize(g, dim=1).T).numpy()
    print(f"\n{name}: {n_queries:,} queries x {n_images:,} gallery, {n_ids:,} ids, dim {DIM} "
          f"(median of {repeat} run{'s' if repeat > 1 else ''})")
    small = slice(0, 64)
    retrieval_metrics(sim[small], q_pids[small], g_pids)  # warm-up: thread pool, first-call set-up
    reference_metrics(sim[small], q_pids[small], g_pids)

    ours, t_ours = timed(lambda: retrieval_metrics(sim, q_pids, g_pids), repeat)
    ref, t_ref = timed(lambda: reference_metrics(sim, q_pids, g_pids), repeat)
    diff = max(abs(ours[k] - ref[k]) for k in KEYS)
    print(f"  reference  {fmt(ref)}   {t_ref:7.2f} s")
    print(f"  tipr-bench {fmt(ours)}   {t_ours:7.2f} s")
    print(f"  max |difference| {diff:.2e} (must be <= 1e-4: {'ok' if diff <= 1e-4 else 'FAIL'});"
          f"  speed-up {t_ref / t_ours:.1f}x")

    feats, t_feats = timed(lambda: feature_retrieval_metrics(text, image, q_pids, g_pids))
    same = max(abs(feats[k] - ours[k]) for k in KEYS)
    print(f"  from features (matmul + metrics, chunked, no full matrix): {t_feats:.2f} s, "
          f"max |difference| to the matrix path {same:.2e}")

    i2t, t_i2t = timed(lambda: transposed_retrieval_metrics(sim, g_pids, q_pids))
    print(f"  i2t        {fmt(i2t)}   {t_i2t:7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["cuhk", "icfg"])
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}; numpy {np.__version__}; torch {torch.__version__}")
    print("timings are wall-clock on a shared machine: noisy, compare the ratio within one run")
    for key in args.sizes:
        run(*SIZES[key])


if __name__ == "__main__":
    main()
