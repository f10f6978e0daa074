"""Bi-IRRA training throughput: images/s and peak memory for the base (published) and tiny configs.

Each measurement runs in its own process (a clean peak-memory reading), a few warm-up steps, then
timed optimizer steps of the full bilingual objective on random images and token ids. The tiny config
is the in-run reference: the script prints base/tiny ratios, and on CUDA also bf16/fp32.

    python bench/train_speed.py                      # whatever device there is
    python bench/train_speed.py --device cuda --steps 20 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time

import torch


def measure(config_name: str, device: str, batch_size: int, steps: int, warmup: int, amp: bool, text_len: int,
            threads: int | None) -> dict:
    from tipr_bench.baselines.bi_irra.config import get_config
    from tipr_bench.baselines.bi_irra.masking import blockwise_mask, mask_tokens
    from tipr_bench.baselines.bi_irra.model import BiIRRA, TrainBatch
    from tipr_bench.baselines.bi_irra.optimizer import param_groups
    from tipr_bench.core.devices import use_cpu_threads

    torch.manual_seed(0)
    cfg = get_config(config_name)
    dev = torch.device(device)
    use_cpu_threads(dev, threads)  # as training does: fewer threads on a CPU other processes keep busy
    model = BiIRRA(cfg).to(dev).train()
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas)
    rng = random.Random(0)
    length = min(text_len, cfg.max_text_len)

    def batch() -> TrainBatch:
        ids = torch.randint(5, cfg.vocab_size - 1, (batch_size, length))
        ids[:, 0], ids[:, -1] = 0, 2
        att = torch.ones_like(ids)
        m = [mask_tokens(r.tolist(), special_ids={0, 1, 2}, mask_id=cfg.vocab_size - 1, vocab_size=cfg.vocab_size,
                         rng=rng) for r in ids]
        pos, lab, mid = (torch.stack([getattr(x, f) for x in m]) for f in ("positions", "labels", "ids"))
        return TrainBatch(
            images=torch.randn(batch_size, 3, *cfg.image_size),
            patch_mask=torch.stack([blockwise_mask(cfg.grid, cfg.image_mask_ratio, rng) for _ in range(batch_size)]),
            pids=torch.arange(batch_size), en_ids=ids, en_att=att, tg_ids=ids.flip(1), tg_att=att,
            en_mlm_ids=mid, en_mlm_pos=pos, en_mlm_labels=lab, tg_mlm_ids=mid, tg_mlm_pos=pos, tg_mlm_labels=lab,
        ).to(dev)

    batches = [batch() for _ in range(2)]

    def step(i: int) -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = model(batches[i % 2])["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for i in range(warmup):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"config": config_name, "device": str(dev), "amp": amp, "batch_size": batch_size, "steps": steps,
            "images_per_s": steps * batch_size / seconds, "peak_memory_gib": peak / 2**30,
            "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
            "threads": torch.get_num_threads()}


def run_child(args: argparse.Namespace, config: str, batch_size: int, amp: bool) -> dict:
    cmd = [sys.executable, __file__, "--one", config, "--device", args.device, "--batch-size", str(batch_size),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--text-len", str(args.text_len),
           "--amp" if amp else "--no-amp", *(["--threads", str(args.threads)] if args.threads else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="base config batch (default 32 GPU, 2 CPU)")
    parser.add_argument("--tiny-batch-size", type=int, default=32)
    parser.add_argument("--text-len", type=int, default=48, help="caption length in tokens")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: as training decides)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    args.steps = args.steps or (20 if gpu else 3)
    if args.one:
        batch = args.batch_size or (32 if gpu else 2)
        print(json.dumps(measure(args.one, args.device, batch, args.steps, args.warmup, args.amp and gpu,
                                 args.text_len, args.threads)))
        return
    base_batch = args.batch_size or (32 if gpu else 2)
    rows = [run_child(args, "tiny", args.tiny_batch_size, gpu), run_child(args, "base", base_batch, gpu)]
    if gpu:
        rows.append(run_child(args, "base", base_batch, False))
    print(f"{'config':<6} {'device':<8} {'amp':<5} {'threads':>7} {'batch':>5} {'params M':>9} {'images/s':>10} "
          f"{'peak GiB':>9}")
    for r in rows:
        print(f"{r['config']:<6} {r['device']:<8} {str(r['amp']):<5} {r['threads']:>7} {r['batch_size']:>5} "
              f"{r['params_m']:>9.1f} {r['images_per_s']:>10.2f} {r['peak_memory_gib']:>9.2f}")
    tiny, base = rows[0], rows[1]
    print(f"base/tiny images/s ratio: {base['images_per_s'] / tiny['images_per_s']:.4f}")
    if gpu:
        print(f"base bf16/fp32 images/s ratio: {rows[1]['images_per_s'] / rows[2]['images_per_s']:.2f}  "
              f"peak memory ratio: {rows[1]['peak_memory_gib'] / rows[2]['peak_memory_gib']:.2f}")
    if rows[1].get("gpu"):
        print(f"gpu: {rows[1]['gpu']}")


if __name__ == "__main__":
    main()
